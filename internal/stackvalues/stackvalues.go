// Package stackvalues makes the immutable aws-cdk-lib values the constructs
// use, Durations and constants such as the CPU architecture, once per stack.
// From Go each is a round trip to the jsii runtime (about a quarter of a
// millisecond, and ten of them a traced service); the constructs of a stack
// share one of each, as a JavaScript app shares a module-level constant.
// Values are kept by stack, so none outlives the jsii runtime that made it
// (jsii.Close ends a runtime, and the next jsii call starts another).
package stackvalues

import (
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

type key struct {
	stack awscdk.Stack
	name  string
	n     float64
}

var values sync.Map // key -> the value

func get[T any](stack awscdk.Stack, name string, n float64, make func() T) T {
	k := key{stack, name, n}
	if v, ok := values.Load(k); ok {
		return v.(T)
	}
	v := make()
	values.Store(k, v)
	return v
}

// Seconds is awscdk.Duration_Seconds(n), made once for the stack.
func Seconds(stack awscdk.Stack, n float64) awscdk.Duration {
	return get(stack, "seconds", n, func() awscdk.Duration { return awscdk.Duration_Seconds(&n) })
}

// Days is awscdk.Duration_Days(n), made once for the stack.
func Days(stack awscdk.Stack, n float64) awscdk.Duration {
	return get(stack, "days", n, func() awscdk.Duration { return awscdk.Duration_Days(&n) })
}

// Constant is what value returns, called once for the stack: for aws-cdk-lib's
// static values, such as awsecs.CpuArchitecture_X86_64. The name tells the
// constants apart.
func Constant[T any](stack awscdk.Stack, name string, value func() T) T {
	return get(stack, name, 0, value)
}

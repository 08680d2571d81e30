package xray_test

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/xray"
)

// The examples are compiled, not run: "It prints" is not an Output comment.
// The app's tests run the same code and check its templates
// (constructs_test.go at the repository root), so that `go test ./...`
// starts jsii in one test binary instead of one per package.

// printResources prints the properties of every resource of one type in the
// stack's template.
func printResources(stack awscdk.Stack, resourceType string) {
	found := assertions.Template_FromStack(stack, nil).FindResources(jsii.String(resourceType), nil)
	for _, r := range *found {
		out, _ := json.MarshalIndent((*r)["Properties"], "", "  ")
		fmt.Println(string(out))
	}
}

func ExampleNewGroup() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Tracing"), nil)

	group := xray.NewGroup(stack, "Group", &xray.GroupProps{
		GroupName:       jsii.String("orders"),
		ServiceName:     jsii.String("orders"),
		InsightsEnabled: jsii.Bool(true),
	})
	fmt.Println(*group.FilterExpression())
	printResources(stack, "AWS::XRay::Group")
	// It prints:
	// service("orders")
	// {
	//   "FilterExpression": "service(\"orders\")",
	//   "GroupName": "orders",
	//   "InsightsConfiguration": {
	//     "InsightsEnabled": true,
	//     "NotificationsEnabled": false
	//   }
	// }
}

func ExampleNewSamplingRule() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Tracing"), nil)

	// Trace every POST to /api/activities, up to 10 a second, then 1 in 4.
	xray.NewSamplingRule(stack, "Writes", &xray.SamplingRuleProps{
		RuleName:      jsii.String("cruddur-writes"),
		Priority:      jsii.Number(100),
		ReservoirSize: jsii.Number(10),
		FixedRate:     jsii.Number(0.25),
		HTTPMethod:    jsii.String("POST"),
		URLPath:       jsii.String("/api/activities*"),
	})
	printResources(stack, "AWS::XRay::SamplingRule")
	// It prints:
	// {
	//   "SamplingRule": {
	//     "FixedRate": 0.25,
	//     "HTTPMethod": "POST",
	//     "Host": "*",
	//     "Priority": 100,
	//     "ReservoirSize": 10,
	//     "ResourceARN": "*",
	//     "RuleName": "cruddur-writes",
	//     "ServiceName": "Cruddur",
	//     "ServiceType": "*",
	//     "URLPath": "/api/activities*",
	//     "Version": 1
	//   }
	// }
}

func ExampleLoadSamplingRuleFile() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Tracing"), nil)

	// The file `aws xray create-sampling-rule --cli-input-json` takes.
	props, err := xray.LoadSamplingRuleFile("../../aws/json/xray.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	rule := xray.NewSamplingRule(stack, "SamplingRule", props)
	fmt.Println(*rule.RuleName(), *props.Priority, *props.FixedRate, *props.ReservoirSize)

	_, err = xray.ParseSamplingRule([]byte(`{"SamplingRule": {"Priority": 0}}`))
	fmt.Println(err)
	// It prints:
	// Cruddur 9000 0.1 5
	// SamplingRule.Priority: 0 is outside 1..9999
}

func ExampleNewSamplingRule_badProps() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Tracing"), nil)
	defer func() { fmt.Println(recover()) }()

	xray.NewSamplingRule(stack, "Rule", &xray.SamplingRuleProps{FixedRate: jsii.Number(1.5)})
	// It prints:
	// xray.NewSamplingRule Rule: FixedRate: 1.5 is outside 0..1
}

package xray_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/constructs/xray"
)

// TestMain stops jsii's Node process once, after every example. The
// examples check construct output, not aws-cdk-lib's template validator,
// which the app's own tests run.
func TestMain(m *testing.M) {
	os.Setenv("CDK_VALIDATION", "false")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// printProperties prints the properties of each resource of one type.
func printProperties(stack awscdk.Stack, resourceType string) {
	found := assertions.Template_FromStack(stack, nil).FindResources(jsii.String(resourceType), nil)
	for _, r := range *found {
		out, _ := json.MarshalIndent((*r)["Properties"], "", "  ")
		fmt.Println(string(out))
	}
}

func ExampleNewGroup() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Tracing"), nil)

	filter, err := xray.ServiceFilter("orders")
	if err != nil {
		panic(err)
	}
	xray.NewGroup(stack, "Group", &xray.GroupProps{
		GroupName:        jsii.String("orders"),
		FilterExpression: &filter,
		InsightsEnabled:  jsii.Bool(true),
	})
	printProperties(stack, "AWS::XRay::Group")
	// Output:
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
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Tracing"), nil)

	// Trace every POST to /api/activities, up to 10 a second, then 1 in 4.
	// The fields left out match anything.
	xray.NewSamplingRule(stack, "Writes", &xray.SamplingRuleProps{
		RuleName:      jsii.String("orders-writes"),
		Priority:      jsii.Number(100),
		ReservoirSize: jsii.Number(10),
		FixedRate:     jsii.Number(0.25),
		HTTPMethod:    jsii.String("POST"),
		URLPath:       jsii.String("/api/activities*"),
	})
	printProperties(stack, "AWS::XRay::SamplingRule")
	// Output:
	// {
	//   "SamplingRule": {
	//     "FixedRate": 0.25,
	//     "HTTPMethod": "POST",
	//     "Host": "*",
	//     "Priority": 100,
	//     "ReservoirSize": 10,
	//     "ResourceARN": "*",
	//     "RuleName": "orders-writes",
	//     "ServiceName": "*",
	//     "ServiceType": "*",
	//     "URLPath": "/api/activities*",
	//     "Version": 1
	//   }
	// }
}

// A rule file, in the shape `aws xray create-sampling-rule --cli-input-json`
// takes, becomes a rule; the fields it leaves out take the construct's
// defaults, X-Ray's default rule's rate and reservoir.
func ExampleLoadSamplingRuleFile() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Tracing"), nil)

	dir, _ := os.MkdirTemp("", "rules")
	defer os.RemoveAll(dir)
	path := dir + "/health.json"
	os.WriteFile(path, []byte(`{"SamplingRule": {"RuleName": "health", "Priority": 100, "URLPath": "/health"}}`), 0o644)

	props, err := xray.LoadSamplingRuleFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	rule := xray.NewSamplingRule(stack, "Health", props)
	fmt.Println("FixedRate", *rule.FixedRate())
	printProperties(stack, "AWS::XRay::SamplingRule")

	_, err = xray.ParseSamplingRule([]byte(`{"SamplingRule": {"priority": 100}}`))
	fmt.Println(err)
	// Output:
	// FixedRate 0.05
	// {
	//   "SamplingRule": {
	//     "FixedRate": 0.05,
	//     "HTTPMethod": "*",
	//     "Host": "*",
	//     "Priority": 100,
	//     "ReservoirSize": 1,
	//     "ResourceARN": "*",
	//     "RuleName": "health",
	//     "ServiceName": "*",
	//     "ServiceType": "*",
	//     "URLPath": "/health",
	//     "Version": 1
	//   }
	// }
	// SamplingRule.priority: unknown field; expected the fields of aws xray create-sampling-rule --cli-input-json, spelled as it spells them (names are case-sensitive)
}

// The constructs refuse props that X-Ray would refuse and the template
// validator cannot see.
func ExampleNewGroup_badProps() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Tracing"), nil)
	defer func() { fmt.Println(recover()) }()

	xray.NewGroup(stack, "Group", &xray.GroupProps{
		GroupName:            jsii.String("orders"),
		FilterExpression:     jsii.String(`service("orders")`),
		NotificationsEnabled: jsii.Bool(true),
	})
	// Output:
	// xray.NewGroup Group: NotificationsEnabled: true needs InsightsEnabled true; expected InsightsEnabled true or NotificationsEnabled false
}

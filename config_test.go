package main

import (
	"strings"
	"testing"
)

// defaults is cdk.json's context for this app, as the CLI passes it.
func defaults() map[string]any {
	return map[string]any{
		keyServiceName:           "Cruddur",
		keyGroupName:             "Cruddur",
		keyInsightsEnabled:       false,
		keyInsightsNotifications: false,
		keySamplingRuleFile:      "aws/json/xray.json",
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(defaults(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceName != "Cruddur" || *c.SamplingRule.ServiceName != "Cruddur" || *c.SamplingRule.Priority != 9000 {
		t.Fatalf("unexpected config %+v, rule %+v", c, c.SamplingRule)
	}
	if c.Account != "" || c.Region != "" {
		t.Fatalf("want an environment-agnostic stack, got %q/%q", c.Account, c.Region)
	}
}

func TestLoadConfigEnvironment(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	cases := []struct {
		name            string
		ctx             map[string]any
		vars            map[string]string
		account, region string
	}{
		{"CLI without credentials sets only a region: agnostic", nil, map[string]string{"CDK_DEFAULT_REGION": "us-east-1"}, "", ""},
		{"CLI with credentials", nil, map[string]string{"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-west-1"}, "111122223333", "eu-west-1"},
		{"context wins over the CLI", map[string]any{keyAccount: "444455556666", keyRegion: "ap-southeast-2"},
			map[string]string{"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-west-1"}, "444455556666", "ap-southeast-2"},
		{"context region only", map[string]any{keyRegion: "us-gov-west-1"}, nil, "", "us-gov-west-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := defaults()
			for k, v := range tc.ctx {
				ctx[k] = v
			}
			c, err := LoadConfig(ctx, env(tc.vars))
			if err != nil {
				t.Fatal(err)
			}
			if c.Account != tc.account || c.Region != tc.region {
				t.Fatalf("got %q/%q, want %q/%q", c.Account, c.Region, tc.account, tc.region)
			}
		})
	}
}

func TestLoadConfigServiceNameDrivesRuleAndGroup(t *testing.T) {
	ctx := defaults()
	ctx[keyServiceName] = "orders"
	ctx[keySamplingRuleFile] = writeFile(t, `{"SamplingRule": {"Priority": 100}}`)
	c, err := LoadConfig(ctx, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := *c.SamplingRule.ServiceName; got != "orders" {
		t.Errorf("rule ServiceName = %q, want orders", got)
	}
	if got := *c.GroupProps().ServiceName; got != "orders" {
		t.Errorf("group ServiceName = %q, want orders", got)
	}

	// A wildcard that matches the service is an override on purpose.
	ctx[keySamplingRuleFile] = writeFile(t, `{"SamplingRule": {"ServiceName": "ord*"}}`)
	if c, err = LoadConfig(ctx, noEnv); err != nil {
		t.Fatal(err)
	}
	if got := *c.SamplingRule.ServiceName; got != "ord*" {
		t.Errorf("rule ServiceName = %q, want the file's ord*", got)
	}

	// So is a filter expression given in context.
	ctx[keyGroupFilterExpression] = `service("orders") AND responsetime > 1`
	if c, err = LoadConfig(ctx, noEnv); err != nil {
		t.Fatal(err)
	}
	if got := *c.GroupProps().FilterExpression; got != `service("orders") AND responsetime > 1` {
		t.Errorf("filter = %q", got)
	}
}

// TestLoadConfigRejectsBadInput covers every context value and the rule
// file: each error names the input, the bad value and what is expected.
func TestLoadConfigRejectsBadInput(t *testing.T) {
	cases := []struct {
		name    string
		ctx     map[string]any
		wantErr string
	}{
		{"empty service name", map[string]any{keyServiceName: ""},
			`context cruddur:serviceName: "" has 0 characters; expected 1..64`},
		{"service name with a double quote", map[string]any{keyServiceName: `back"end`},
			`context cruddur:serviceName: "back\"end" contains '"'; expected letters, numbers, spaces and _ . : / % & # = + - @`},
		{"service name too long", map[string]any{keyServiceName: strings.Repeat("s", 65)},
			`context cruddur:serviceName: "` + strings.Repeat("s", 65) + `" has 65 characters; expected 1..64`},
		{"service name not a string", map[string]any{keyServiceName: 42.0},
			`context cruddur:serviceName: 42; expected a string`},
		{"group name too long", map[string]any{keyGroupName: strings.Repeat("g", 33)},
			`context cruddur:groupName: GroupName: "` + strings.Repeat("g", 33) + `" has 33 characters; expected 1..32`},
		{"insights not a boolean", map[string]any{keyInsightsEnabled: "yes"},
			`context cruddur:insightsEnabled: "yes"; expected true or false`},
		{"notifications without insights", map[string]any{keyInsightsNotifications: "true"},
			`context cruddur:insightsNotificationsEnabled: true needs cruddur:insightsEnabled true; expected both true, or notifications false`},
		{"bad account", map[string]any{keyAccount: "12345"},
			`context cruddur:account: "12345" is not an AWS account id; expected 12 digits`},
		{"bad region", map[string]any{keyRegion: "mars-1"},
			`context cruddur:region: "mars-1" is not an AWS region; expected a name such as us-east-1`},
		{"unknown key", map[string]any{"cruddur:sevriceName": "x"},
			`context cruddur:sevriceName: unknown key; expected one of cruddur:account, cruddur:appImage, cruddur:appPort, cruddur:certificateArn, cruddur:collector, cruddur:collectorImage, cruddur:daemonImage, cruddur:deletionProtection, cruddur:desiredCount, cruddur:ecsExec, cruddur:groupFilterExpression, cruddur:groupName, cruddur:insightsEnabled, cruddur:insightsNotificationsEnabled, cruddur:loadBalancer, cruddur:logRetentionDays, cruddur:natGateways, cruddur:region, cruddur:samplingRuleFile, cruddur:serviceName, cruddur:taskCpu, cruddur:taskMemoryMiB, cruddur:vpcId`},
		{"bad VPC id", map[string]any{keyVpcID: "vpc-xyz", keyAccount: "111122223333", keyRegion: "eu-west-1"},
			`context cruddur:vpcId: "vpc-xyz" is not a VPC id; expected vpc- and 8 or 17 hexadecimal digits`},
		{"VPC lookup without an environment", map[string]any{keyVpcID: "vpc-0123456789abcdef0"},
			`context cruddur:vpcId: looking up vpc-0123456789abcdef0 needs the stack's account and region; expected cruddur:account and cruddur:region too (or AWS credentials for the CLI)`},
		{"NAT gateways", map[string]any{keyNatGateways: "3"},
			`context cruddur:natGateways: "3"; expected a whole number in 1..2`},
		{"desired count", map[string]any{keyDesiredCount: 0.0},
			`context cruddur:desiredCount: 0; expected a whole number in 1..100`},
		{"ECS Exec not a boolean", map[string]any{keyEcsExec: "on"},
			`context cruddur:ecsExec: "on"; expected true or false`},
		{"certificate ARN", map[string]any{keyCertificateArn: "arn:aws:iam::111122223333:server-certificate/x"},
			`context cruddur:certificateArn: "arn:aws:iam::111122223333:server-certificate/x" is not an ACM certificate ARN; expected arn:aws:acm:REGION:ACCOUNT:certificate/ID`},
		{"certificate without a load balancer", map[string]any{keyLoadBalancer: false, keyCertificateArn: "arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"},
			`context cruddur:certificateArn: a certificate needs the load balancer; expected cruddur:loadBalancer true or no certificate`},
		{"invalid app image", map[string]any{keyAppImage: "Backend:1.0"},
			`context cruddur:appImage: "Backend:1.0" is not an image reference (invalid reference format: repository name (library/Backend) must be lowercase); expected a name with a tag or digest, such as public.ecr.aws/xray/aws-xray-daemon:3.6.6`},
		{"app image without a tag", map[string]any{keyAppImage: "123456789012.dkr.ecr.us-east-1.amazonaws.com/cruddur"},
			`context cruddur:appImage: "123456789012.dkr.ecr.us-east-1.amazonaws.com/cruddur" is not pinned; expected a tag other than latest, or a digest, such as public.ecr.aws/xray/aws-xray-daemon:3.6.6`},
		{"daemon image latest", map[string]any{keyDaemonImage: "amazon/aws-xray-daemon:latest"},
			`context cruddur:daemonImage: "amazon/aws-xray-daemon:latest" is not pinned; expected a tag other than latest, or a digest, such as public.ecr.aws/xray/aws-xray-daemon:3.6.6`},
		{"port not a number", map[string]any{keyAppPort: "http"},
			`context cruddur:appPort: "http"; expected a whole number in 1..65535`},
		{"port out of range", map[string]any{keyAppPort: 70000.0},
			`context cruddur:appPort: 70000; expected a whole number in 1..65535`},
		{"port of the daemon", map[string]any{keyAppPort: "2000"},
			`context cruddur:appPort: 2000 is a port of the tracing sidecar in the same task; expected another port in 1..65535`},
		{"port of the collector's OTLP receiver", map[string]any{keyCollector: "adot", keyAppPort: 4318.0},
			`context cruddur:appPort: 4318 is a port of the tracing sidecar in the same task; expected another port in 1..65535`},
		{"unknown collector", map[string]any{keyCollector: "jaeger"},
			`context cruddur:collector: "jaeger" is not a collector; expected "xray-daemon" (the default) or "adot"`},
		{"unpinned collector image", map[string]any{keyCollectorImage: "public.ecr.aws/aws-observability/aws-otel-collector"},
			`context cruddur:collectorImage: "public.ecr.aws/aws-observability/aws-otel-collector" is not pinned; expected a tag other than latest, or a digest, such as public.ecr.aws/xray/aws-xray-daemon:3.6.6`},
		{"CPU Fargate does not have", map[string]any{keyTaskCPU: 300.0},
			`context cruddur:taskCpu/cruddur:taskMemoryMiB: 300 CPU units is not a Fargate task size; expected one of 256, 512, 1024, 2048, 4096, 8192, 16384`},
		{"memory that does not go with the CPU", map[string]any{keyTaskMemoryMiB: "4096"},
			`context cruddur:taskCpu/cruddur:taskMemoryMiB: 4096 MiB is not a Fargate memory size for 256 CPU units; expected 512, 1024, 2048`},
		{"memory off the step", map[string]any{keyTaskCPU: 1024.0, keyTaskMemoryMiB: 2500.0},
			`context cruddur:taskCpu/cruddur:taskMemoryMiB: 2500 MiB is not a Fargate memory size for 1024 CPU units; expected 2048..8192 in steps of 1024`},
		{"fractional memory", map[string]any{keyTaskMemoryMiB: 512.5},
			`context cruddur:taskMemoryMiB: 512.5; expected a whole number in 1..1048576`},
		{"log retention CloudWatch lacks", map[string]any{keyLogRetentionDays: 31.0},
			`context cruddur:logRetentionDays: 31 days is not a CloudWatch Logs retention period; expected one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653`},
		{"missing rule file", map[string]any{keySamplingRuleFile: "aws/json/nope.json"},
			`context cruddur:samplingRuleFile: sampling rule file: open aws/json/nope.json: no such file or directory`},
		{"rule for another service", map[string]any{keyServiceName: "orders"},
			`aws/json/xray.json: SamplingRule.ServiceName: "Cruddur" does not match the service name "orders" (context cruddur:serviceName), so the rule would never sample its traces; expected "orders", a pattern that matches it, or no ServiceName to follow the context`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := defaults()
			for k, v := range tc.ctx {
				ctx[k] = v
			}
			_, err := LoadConfig(ctx, noEnv)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error:\n got %v\nwant %s", err, tc.wantErr)
			}
		})
	}
}

// TestLoadConfigRejectsBadRuleFiles checks that a bad file's error names the
// context key, the file and the field.
func TestLoadConfigRejectsBadRuleFiles(t *testing.T) {
	cases := []struct{ name, json, wantSuffix string }{
		{"unreadable JSON", `{"SamplingRule": `, `: not valid JSON: the file ends too soon`},
		{"unknown field", `{"SamplingRule": {"Colour": "red"}}`, `: SamplingRule.Colour: unknown field; expected one of Attributes, FixedRate, HTTPMethod, Host, Priority, ReservoirSize, ResourceARN, RuleName, ServiceName, ServiceType, URLPath, Version (names are case-sensitive)`},
		{"wrong type", `{"SamplingRule": {"ReservoirSize": "5"}}`, `: SamplingRule.ReservoirSize: "5" is a string; expected a number`},
		{"Priority 0", `{"SamplingRule": {"Priority": 0}}`, `: SamplingRule.Priority: 0 is outside 1..9999`},
		{"FixedRate 1.5", `{"SamplingRule": {"FixedRate": 1.5}}`, `: SamplingRule.FixedRate: 1.5 is outside 0..1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := defaults()
			path := writeFile(t, tc.json)
			ctx[keySamplingRuleFile] = path
			_, err := LoadConfig(ctx, noEnv)
			want := "context cruddur:samplingRuleFile: " + path + tc.wantSuffix
			if err == nil || err.Error() != want {
				t.Fatalf("error:\n got %v\nwant %s", err, want)
			}
		})
	}
}

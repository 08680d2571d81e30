package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/cruddur/tracing/stack/stages"
)

func TestStackIsEnvironmentAgnosticByDefault(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(synthesized["Default"].json, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["Parameters"].(map[string]any)["BootstrapVersion"]; !ok {
		t.Fatal("missing the BootstrapVersion parameter of the default synthesizer")
	}
	// Mappings list every region on purpose (looked up with AWS::Region at
	// deploy time); nothing else may name one.
	delete(doc, "Mappings")
	rest, _ := json.Marshal(doc)
	if m := regexp.MustCompile(`"[a-z]{2}-[a-z]+-[0-9]"`).Find(rest); m != nil {
		t.Fatalf("the default template names the region %s outside its mappings; it should use AWS::Region", m)
	}
}

// TestDeployedResourcesKeepTheirLogicalIDs: a new logical id replaces a deployed resource, so the
// X-Ray group and rule, the log groups and the task role keep theirs.
func TestDeployedResourcesKeepTheirLogicalIDs(t *testing.T) {
	want := map[string]string{
		"GroupC77FDACD": "AWS::XRay::Group", "SamplingRuleD4BE07E6": "AWS::XRay::SamplingRule",
		"TaskAppLogsBB4C71B5": "AWS::Logs::LogGroup", "TaskDaemonLogs6640621F": "AWS::Logs::LogGroup",
		"VpcFlowLogsE6FFDEF9": "AWS::Logs::LogGroup", "TaskTaskRoleE98524A1": "AWS::IAM::Role",
	}
	for id, typ := range want {
		if _, ok := resources(t, "Default", typ)[id]; !ok {
			t.Errorf("no %s %s", typ, id)
		}
	}
}

func TestTheServiceRunsPrivateTasksWithRollingDeploysAndRollback(t *testing.T) {
	check(t, "Container Insights on the cluster", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::Cluster"), map[string]any{
			"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
		})
	})
	check(t, "tasks in private subnets, no public IP, rolling deploys with rollback, a grace period for the load balancer", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"LaunchType": "FARGATE", "PlatformVersion": "LATEST", "HealthCheckGracePeriodSeconds": 60,
			"DeploymentConfiguration": map[string]any{
				"MinimumHealthyPercent": 100, "MaximumPercent": 200,
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			},
			"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"AssignPublicIp": "DISABLED",
				"Subnets":        []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^VpcPrivateSubnet1"))}, map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^VpcPrivateSubnet2"))}},
			})},
			"EnableExecuteCommand": false,
		})
	})
}

func TestTheNetworkSpansTwoAZsAndLogsRejectedTraffic(t *testing.T) {
	check(t, "two AZs, one NAT gateway, a flow log of rejected traffic", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::EC2::Subnet"), jsii.Number(4))
		tmpl("Default").ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(1))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::EC2::FlowLog"), map[string]any{"TrafficType": "REJECT"})
	})
}

func TestTheLoadBalancerDropsInvalidHeadersAndAmbiguousFraming(t *testing.T) {
	// The edge frames requests: ambiguous framing (Content-Length and
	// Transfer-Encoding both) is refused there, in strictest mode, which
	// the backend therefore does not repeat.
	check(t, "internet-facing ALB with access logs, invalid headers dropped, ambiguous framing refused (strictest), deletion protection off by default", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), jsii.Number(1))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"Scheme": "internet-facing", "Type": "application",
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{
				map[string]any{"Key": "deletion_protection.enabled", "Value": "false"},
				map[string]any{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
				map[string]any{"Key": "routing.http.desync_mitigation_mode", "Value": "strictest"},
				map[string]any{"Key": "access_logs.s3.enabled", "Value": "true"},
				map[string]any{"Key": "access_logs.s3.prefix", "Value": "alb"},
			}),
		})
	})
	check(t, "health check on /api/health-check; old tasks drain in 30 s", func() {
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
			"Protocol": "HTTP", "TargetType": "ip", "HealthCheckPath": healthCheckPath, "Matcher": map[string]any{"HttpCode": "200"},
			"HealthCheckIntervalSeconds": 15, "HealthCheckTimeoutSeconds": 5, "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3,
			"TargetGroupAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}}),
		})
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"LoadBalancers": []any{map[string]any{"ContainerName": "app", "ContainerPort": 4567, "TargetGroupArn": assertions.Match_AnyValue()}},
		})
	})
	check(t, "HTTP listener on 80 without a certificate", func() {
		tmpl("Default").ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), jsii.Number(1))
		tmpl("Default").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{"Port": 80, "Protocol": "HTTP"})
	})
	check(t, "access log bucket: encrypted, private, TLS only, kept", func() {
		tmpl("Default").HasResource(jsii.String("AWS::S3::Bucket"), map[string]any{
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
					map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}},
				}},
				"PublicAccessBlockConfiguration": map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
			}),
			"DeletionPolicy": "RetainExceptOnCreate",
		})
		tmpl("Default").HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}),
				assertions.Match_ObjectLike(&map[string]any{"Action": "s3:PutObject", "Principal": map[string]any{"AWS": assertions.Match_AnyValue()}}),
			})},
		})
	})
}

// securityGroupRules lists every rule of every security group of a variant,
// inline or standalone, with groups named by logical id without its hash.
func securityGroupRules(t *testing.T, id string) string {
	t.Helper()
	name := func(v any) string {
		if m, ok := v.(map[string]any); ok {
			if a, ok := m["Fn::GetAtt"].([]any); ok {
				v = a[0]
			} else if r, ok := m["Ref"]; ok {
				v = r
			}
			return strings.TrimRight(fmt.Sprint(v), "0123456789ABCDEF")
		}
		return fmt.Sprint(v) // a CIDR
	}
	var rules []string
	add := func(group, dir string, p map[string]any) {
		peer := "?"
		for _, k := range []string{"CidrIp", "CidrIpv6", "SourceSecurityGroupId", "DestinationSecurityGroupId"} {
			if v, ok := p[k]; ok {
				peer = name(v)
			}
		}
		rules = append(rules, fmt.Sprintf("%s %s %v %v-%v %s", group, dir, p["IpProtocol"], p["FromPort"], p["ToPort"], peer))
	}
	for logicalID, p := range resources(t, id, "AWS::EC2::SecurityGroup") {
		for dir, key := range map[string]string{"in": "SecurityGroupIngress", "out": "SecurityGroupEgress"} {
			list, _ := p[key].([]any)
			for _, e := range list {
				add(strings.TrimRight(logicalID, "0123456789ABCDEF"), dir, e.(map[string]any))
			}
		}
	}
	for dir, typ := range map[string]string{"in": "AWS::EC2::SecurityGroupIngress", "out": "AWS::EC2::SecurityGroupEgress"} {
		for _, p := range resources(t, id, typ) {
			add(name(p["GroupId"]), dir, p)
		}
	}
	sort.Strings(rules)
	return strings.Join(rules, "\n")
}

// TestSecurityGroupsAllowOnlyTheseRules wants exactly these rules and no others: the
// internet reaches the load balancer on its listener ports only, the load
// balancer the tasks on the app port only, and the tasks reach out on 443.
func TestSecurityGroupsAllowOnlyTheseRules(t *testing.T) {
	cases := map[string][]string{
		"Default": {
			"LoadBalancerSecurityGroup in tcp 80-80 0.0.0.0/0",
			"LoadBalancerSecurityGroup out tcp 4567-4567 TasksSecurityGroup",
			"TasksSecurityGroup in tcp 4567-4567 LoadBalancerSecurityGroup",
			"TasksSecurityGroup out tcp 443-443 0.0.0.0/0",
		},
		"ServiceOptions": {
			"LoadBalancerSecurityGroup in tcp 443-443 0.0.0.0/0",
			"LoadBalancerSecurityGroup in tcp 80-80 0.0.0.0/0",
			"LoadBalancerSecurityGroup out tcp 4567-4567 TasksSecurityGroup",
			"TasksSecurityGroup in tcp 4567-4567 LoadBalancerSecurityGroup",
			"TasksSecurityGroup out tcp 443-443 0.0.0.0/0",
		},
		"NoLoadBalancer": {"TasksSecurityGroup out tcp 443-443 0.0.0.0/0"},
	}
	for id, want := range cases {
		if got := securityGroupRules(t, id); got != strings.Join(want, "\n") {
			t.Errorf("%s: security group rules:\n%s\nwant exactly:\n%s", id, got, strings.Join(want, "\n"))
		}
	}
}

// TestBothServicePathsRunTheTasksAlike: with a load balancer (ecs-patterns)
// or without (a plain FargateService), the service runs its tasks the same
// way: deployments, circuit breaker, ECS Exec, platform, launch type and
// network; only the load balancer's own properties differ.
func TestBothServicePathsRunTheTasksAlike(t *testing.T) {
	service := func(id string) map[string]any {
		found := resources(t, id, "AWS::ECS::Service")
		if len(found) != 1 {
			t.Fatalf("%s: %d services", id, len(found))
		}
		for _, props := range found {
			return props
		}
		return nil
	}
	behind, alone := service("Default"), service("NoLoadBalancer")
	for _, key := range []string{"LoadBalancers", "HealthCheckGracePeriodSeconds"} {
		if behind[key] == nil || alone[key] != nil {
			t.Errorf("%s: %v behind the load balancer, %v without; want it only behind one", key, behind[key], alone[key])
		}
		delete(behind, key)
	}
	delete(behind, "DesiredCount") // the scaler's, in both (TestTheScalerOwnsTheTaskCount)
	delete(alone, "DesiredCount")
	x, _ := json.Marshal(behind)
	y, _ := json.Marshal(alone)
	if !bytes.Equal(x, y) {
		t.Errorf("the service differs between the paths:\nbehind a load balancer %s\nwithout %s", x, y)
	}
}

func TestTheOutputsNameTheURLLogsAndTraces(t *testing.T) {
	check(t, "service URL, log groups named for what they hold, X-Ray group and console link", func() {
		tmpl("Default").HasOutput(jsii.String("ServiceServiceURL250C0FB6"), map[string]any{
			"Value": map[string]any{"Fn::Join": []any{"", []any{"http://", map[string]any{"Fn::GetAtt": []any{"LoadBalancerBE9EEC3A", "DNSName"}}}}},
		})
		tmpl("Default").HasOutput(jsii.String("AppLogGroupName"), map[string]any{"Value": map[string]any{"Ref": "TaskAppLogsBB4C71B5"}})
		tmpl("Daemon").HasOutput(jsii.String("CollectorLogGroupName"), map[string]any{"Value": map[string]any{"Ref": "TaskDaemonLogs6640621F"}, "Description": "The X-Ray daemon's logs"})
		tmpl("ADOT").HasOutput(jsii.String("CollectorLogGroupName"), map[string]any{"Value": map[string]any{"Ref": "TaskDaemonLogs6640621F"}, "Description": "The ADOT collector's logs"})
		tmpl("Default").HasOutput(jsii.String("XRayGroupName"), map[string]any{"Value": "Cruddur"})
		tmpl("Default").HasOutput(jsii.String("XRayTracesUrl"), assertions.Match_AnyValue())
	})
}

func TestWithoutALoadBalancerTheServiceStillDeploysSafely(t *testing.T) {
	check(t, "no load balancer, listener or grace period; the service still deploys safely", func() {
		tmpl("NoLoadBalancer").ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), jsii.Number(0))
		tmpl("NoLoadBalancer").ResourceCountIs(jsii.String("AWS::S3::Bucket"), jsii.Number(0))
		tmpl("NoLoadBalancer").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"HealthCheckGracePeriodSeconds": assertions.Match_Absent(), "LoadBalancers": assertions.Match_Absent(),
			"DeploymentConfiguration": map[string]any{"MinimumHealthyPercent": 100, "MaximumPercent": 200,
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true}},
		})
	})
}

func TestACertificateServesHTTPSAndRedirectsHTTP(t *testing.T) {
	check(t, "HTTPS on 443 with the certificate and a recommended TLS policy; 80 redirects to it", func() {
		tmpl("ServiceOptions").ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), jsii.Number(2))
		tmpl("ServiceOptions").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{
			"Port": 443, "Protocol": "HTTPS", "Certificates": []any{map[string]any{"CertificateArn": certificateArn}},
			"SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
		})
		tmpl("ServiceOptions").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{
			"Port": 80, "Protocol": "HTTP", "DefaultActions": []any{map[string]any{"Type": "redirect",
				"RedirectConfig": map[string]any{"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}}},
		})
	})
}

func TestContextTurnsOnDeletionProtectionAndExec(t *testing.T) {
	check(t, "deletion protection and ECS Exec (three tasks: TestTheScalerOwnsTheTaskCount)", func() {
		tmpl("ServiceOptions").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "deletion_protection.enabled", "Value": "true"}}),
		})
		tmpl("ServiceOptions").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{"EnableExecuteCommand": true})
	})
}

func TestAnExistingVpcRunsTheTasksInItsPrivateSubnets(t *testing.T) {
	check(t, "no VPC of its own; tasks in the looked-up private subnets", func() {
		tmpl("ExistingVpc").ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(0))
		tmpl("ExistingVpc").HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"Subnets": []any{"subnet-00000000000000003", "subnet-00000000000000004"},
			})},
		})
	})
}

// TestTheBackendTrustsTheLoadBalancerOnly: with the load balancer in front,
// the backend takes the client's address from the entry it appended to
// X-Forwarded-For (CRUDDUR_TRUSTED_PROXIES=1); without one, from the peer.
func TestTheBackendTrustsTheLoadBalancerOnly(t *testing.T) {
	for id, want := range map[string]string{"Default": "1", "ADOT": "1", "Production": "1", "NoLoadBalancer": ""} {
		if got := containers(t, id)["app"].env("CRUDDUR_TRUSTED_PROXIES"); got != want {
			t.Errorf("%s: CRUDDUR_TRUSTED_PROXIES=%q; want %q", id, got, want)
		}
	}
}

func TestPublicSubnetsAssignNoPublicIPs(t *testing.T) {
	for _, id := range []string{"Default", "Production"} {
		subnets := resources(t, id, "AWS::EC2::Subnet")
		if len(subnets) != 4 {
			t.Fatalf("%s: %d subnets", id, len(subnets))
		}
		for name, p := range subnets {
			if p["MapPublicIpOnLaunch"] != false {
				t.Errorf("%s: %s assigns public IPs (%v)", id, name, p["MapPublicIpOnLaunch"])
			}
		}
	}
}

// TestTheScalerOwnsTheTaskCount: target tracking on CPU and on requests per
// task between cruddur:desiredCount and cruddur:maxCount, and no DesiredCount
// in the template for a deploy to reset.
func TestTheScalerOwnsTheTaskCount(t *testing.T) {
	cases := []struct {
		id       string
		min, max float64
		metrics  []string
	}{
		{"Default", 2, 10, []string{"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}},
		{"NoLoadBalancer", 2, 10, []string{"ECSServiceAverageCPUUtilization"}},
		{"ServiceOptions", 3, 10, []string{"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}},
		{"Paused", 0, 0, []string{"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}},
	}
	for _, tc := range cases {
		for _, svc := range resources(t, tc.id, "AWS::ECS::Service") {
			if _, set := svc["DesiredCount"]; set {
				t.Errorf("%s: the service sets DesiredCount %v, which a deploy would reset", tc.id, svc["DesiredCount"])
			}
		}
		targets := resources(t, tc.id, "AWS::ApplicationAutoScaling::ScalableTarget")
		if len(targets) != 1 {
			t.Fatalf("%s: %d scalable targets", tc.id, len(targets))
		}
		for _, target := range targets {
			if target["MinCapacity"] != tc.min || target["MaxCapacity"] != tc.max {
				t.Errorf("%s: scales %v..%v, want %v..%v", tc.id, target["MinCapacity"], target["MaxCapacity"], tc.min, tc.max)
			}
		}
		var metrics []string
		for _, policy := range resources(t, tc.id, "AWS::ApplicationAutoScaling::ScalingPolicy") {
			config := policy["TargetTrackingScalingPolicyConfiguration"].(map[string]any)
			spec := config["PredefinedMetricSpecification"].(map[string]any)
			metrics = append(metrics, fmt.Sprint(spec["PredefinedMetricType"]))
			want := map[string]float64{"ECSServiceAverageCPUUtilization": scaleCPUPercent, "ALBRequestCountPerTarget": scaleRequestsPerTask}[fmt.Sprint(spec["PredefinedMetricType"])]
			if config["TargetValue"] != want || config["ScaleInCooldown"] != float64(scaleInSeconds) || config["ScaleOutCooldown"] != float64(scaleOutSeconds) {
				t.Errorf("%s: %v", tc.id, config)
			}
		}
		sort.Strings(metrics)
		if strings.Join(metrics, ",") != strings.Join(tc.metrics, ",") {
			t.Errorf("%s: tracks %v, want %v", tc.id, metrics, tc.metrics)
		}
	}
}

// TestTheLoadBalancerRecoveryNamesItsResource: docs/production.md's recovery
// from a failed first create (deletion protection refuses the rollback's
// delete) names production's load balancer by its logical id, so a renamed
// construct id cannot leave the recovery stale.
func TestTheLoadBalancerRecoveryNamesItsResource(t *testing.T) {
	doc, err := os.ReadFile("../docs/production.md")
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for lid := range resources(t, stages.Production.StackName, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
		id = lid
	}
	for _, want := range []string{"--logical-resource-id " + id + " ", "Key=deletion_protection.enabled,Value=false", "--no-rollback"} {
		if id == "" || !strings.Contains(string(doc), want) {
			t.Errorf("docs/production.md's recovery lacks %q (the load balancer is %q)", want, id)
		}
	}
	check(t, "production's load balancer is protected", func() {
		tmpl(stages.Production.StackName).HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "deletion_protection.enabled", "Value": "true"}}),
		})
	})
}

package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestClusterAndService(t *testing.T) {
	check(t, "cluster with Container Insights", func() {
		synth.tmpl.ResourceCountIs(jsii.String("AWS::ECS::Cluster"), jsii.Number(1))
		synth.tmpl.HasResourceProperties(jsii.String("AWS::ECS::Cluster"), map[string]any{
			"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
		})
	})
	check(t, "Fargate service: two tasks, rolling deploys that keep capacity and roll back, no ECS Exec, private subnets", func() {
		synth.tmpl.ResourceCountIs(jsii.String("AWS::ECS::Service"), jsii.Number(1))
		synth.tmpl.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"LaunchType":      "FARGATE",
			"PlatformVersion": "LATEST",
			"DesiredCount":    2,
			"DeploymentConfiguration": map[string]any{
				"MinimumHealthyPercent":    100,
				"MaximumPercent":           200,
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			},
			"EnableExecuteCommand":          false,
			"HealthCheckGracePeriodSeconds": 60,
			"TaskDefinition":                map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Task[0-9A-F]{8}$"))},
			"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"AssignPublicIp": "DISABLED",
				"Subnets": []any{
					map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^VpcPrivateSubnet1Subnet"))},
					map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^VpcPrivateSubnet2Subnet"))},
				},
			})},
			"LoadBalancers": []any{map[string]any{
				"ContainerName":  "app",
				"ContainerPort":  4567,
				"TargetGroupArn": assertions.Match_AnyValue(),
			}},
		})
	})
}

func TestNetwork(t *testing.T) {
	check(t, "a VPC over two AZs: two public and two private subnets, one NAT gateway, a flow log of rejected traffic", func() {
		synth.tmpl.ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(1))
		synth.tmpl.ResourceCountIs(jsii.String("AWS::EC2::Subnet"), jsii.Number(4))
		synth.tmpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(1))
		synth.tmpl.HasResourceProperties(jsii.String("AWS::EC2::Subnet"), map[string]any{"MapPublicIpOnLaunch": false})
		synth.tmpl.HasResourceProperties(jsii.String("AWS::EC2::FlowLog"), map[string]any{
			"ResourceType": "VPC", "TrafficType": "REJECT", "LogDestinationType": "cloud-watch-logs",
		})
	})
}

func TestLoadBalancer(t *testing.T) {
	check(t, "internet-facing ALB with access logs, invalid headers dropped, deletion protection off by default", func() {
		synth.tmpl.ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), jsii.Number(1))
		synth.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"Scheme": "internet-facing",
			"Type":   "application",
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{
				map[string]any{"Key": "deletion_protection.enabled", "Value": "false"},
				map[string]any{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
				map[string]any{"Key": "access_logs.s3.enabled", "Value": "true"},
				map[string]any{"Key": "access_logs.s3.prefix", "Value": "alb"},
			}),
		})
	})
	check(t, "health check on /api/health-check against the app port", func() {
		synth.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
			"Port": 4567, "Protocol": "HTTP", "TargetType": "ip",
			"HealthCheckPath": "/api/health-check", "Matcher": map[string]any{"HttpCode": "200"},
		})
	})
	check(t, "HTTP listener on 80 without a certificate", func() {
		synth.tmpl.ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), jsii.Number(1))
		synth.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{"Port": 80, "Protocol": "HTTP"})
	})
	check(t, "access log bucket: encrypted, private, TLS only", func() {
		synth.tmpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
				map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}},
			}},
			"PublicAccessBlockConfiguration": map[string]any{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
		})
		synth.tmpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{
					"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				}),
			})},
		})
	})
}

// sgRule is one security-group rule, in a form that compares as a string.
type sgRule struct {
	Group, Direction, Protocol, Peer string
	From, To                         float64
}

func (r sgRule) String() string {
	return fmt.Sprintf("%s %s %s %v-%v %s", r.Group, r.Direction, r.Protocol, r.From, r.To, r.Peer)
}

// securityGroupRules lists every rule of every security group in the
// template, inline or standalone, with groups named by logical id.
func securityGroupRules(t *testing.T, template []byte) []string {
	t.Helper()
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(template, &doc); err != nil {
		t.Fatal(err)
	}
	ref := func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case map[string]any:
			if id, ok := x["Fn::GetAtt"].([]any); ok {
				return strings.TrimRight(id[0].(string), "0123456789ABCDEF")
			}
			if id, ok := x["Ref"].(string); ok {
				return strings.TrimRight(id, "0123456789ABCDEF")
			}
		}
		return fmt.Sprint(v)
	}
	peer := func(p map[string]any, group string) string {
		for _, k := range []string{"CidrIp", "CidrIpv6", "SourceSecurityGroupId", "DestinationSecurityGroupId"} {
			if v, ok := p[k]; ok {
				return ref(v)
			}
		}
		return "?"
	}
	num := func(v any) float64 { f, _ := v.(float64); return f }
	var rules []string
	add := func(group, dir string, p map[string]any) {
		rules = append(rules, sgRule{group, dir, fmt.Sprint(p["IpProtocol"]), peer(p, group), num(p["FromPort"]), num(p["ToPort"])}.String())
	}
	for id, r := range doc.Resources {
		group := strings.TrimRight(id, "0123456789ABCDEF")
		switch r.Type {
		case "AWS::EC2::SecurityGroup":
			for dir, key := range map[string]string{"in": "SecurityGroupIngress", "out": "SecurityGroupEgress"} {
				list, _ := r.Properties[key].([]any)
				for _, e := range list {
					add(group, dir, e.(map[string]any))
				}
			}
		case "AWS::EC2::SecurityGroupIngress":
			add(ref(r.Properties["GroupId"]), "in", r.Properties)
		case "AWS::EC2::SecurityGroupEgress":
			add(ref(r.Properties["GroupId"]), "out", r.Properties)
		}
	}
	sort.Strings(rules)
	return rules
}

// TestSecurityGroupRules wants exactly these rules and no others: the
// internet reaches the load balancer on 80 only, the load balancer reaches
// the tasks on the app port only, and the tasks reach out on 443 only.
func TestSecurityGroupRules(t *testing.T) {
	got := securityGroupRules(t, synth.template)
	want := []string{
		"ServiceLoadBalancerSecurityGroup in tcp 80-80 0.0.0.0/0",
		"ServiceLoadBalancerSecurityGroup out tcp 4567-4567 ServiceTasksSecurityGroup",
		"ServiceTasksSecurityGroup in tcp 4567-4567 ServiceLoadBalancerSecurityGroup",
		"ServiceTasksSecurityGroup out tcp 443-443 0.0.0.0/0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("security group rules:\n%s\nwant exactly:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOutputs(t *testing.T) {
	check(t, "service URL, log groups, X-Ray group and console link", func() {
		synth.tmpl.HasOutput(jsii.String("ServiceUrl"), map[string]any{
			"Value": map[string]any{"Fn::Join": []any{"", []any{"http://", map[string]any{"Fn::GetAtt": assertions.Match_AnyValue()}}}},
		})
		synth.tmpl.HasOutput(jsii.String("AppLogGroupName"), map[string]any{"Value": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^TaskAppLogs"))}})
		synth.tmpl.HasOutput(jsii.String("DaemonLogGroupName"), map[string]any{"Value": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^TaskDaemonLogs"))}})
		synth.tmpl.HasOutput(jsii.String("XRayGroupName"), map[string]any{"Value": "Cruddur"})
		synth.tmpl.HasOutput(jsii.String("XRayTracesUrl"), assertions.Match_AnyValue())
	})
}

func TestWithoutLoadBalancer(t *testing.T) {
	template, tmpl := variant(t, "NoLoadBalancer")
	for _, kind := range []string{"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::Listener", "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::S3::Bucket"} {
		check(t, "no "+kind, func() { tmpl.ResourceCountIs(jsii.String(kind), jsii.Number(0)) })
	}
	check(t, "the service still runs, with no load balancer", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"LoadBalancers": []any{}, "HealthCheckGracePeriodSeconds": assertions.Match_Absent(),
		})
	})
	if outputs := *tmpl.FindOutputs(jsii.String("ServiceUrl"), nil); len(outputs) != 0 {
		t.Errorf("a ServiceUrl output without a load balancer: %v", outputs)
	}
	if rules := securityGroupRules(t, template); strings.Join(rules, "\n") != "ServiceTasksSecurityGroup out tcp 443-443 0.0.0.0/0" {
		t.Errorf("security group rules without a load balancer:\n%s", strings.Join(rules, "\n"))
	}
}

func TestWithCertificate(t *testing.T) {
	arn := certificateArn
	template, tmpl := variant(t, "ServiceOptions")
	check(t, "HTTPS on 443 with the certificate, HTTP on 80 redirects to it", func() {
		tmpl.ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), jsii.Number(2))
		tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{
			"Port": 443, "Protocol": "HTTPS",
			"Certificates": []any{map[string]any{"CertificateArn": arn}},
			"SslPolicy":    assertions.Match_StringLikeRegexp(jsii.String("TLS13")),
		})
		tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{
			"Port": 80, "Protocol": "HTTP",
			"DefaultActions": []any{map[string]any{
				"Type":           "redirect",
				"RedirectConfig": map[string]any{"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"},
			}},
		})
		tmpl.HasOutput(jsii.String("ServiceUrl"), map[string]any{
			"Value": map[string]any{"Fn::Join": []any{"", []any{"https://", assertions.Match_AnyValue()}}},
		})
	})
	if rules := strings.Join(securityGroupRules(t, template), "\n"); !strings.Contains(rules, "ServiceLoadBalancerSecurityGroup in tcp 443-443 0.0.0.0/0") {
		t.Errorf("HTTPS is not open on the load balancer:\n%s", rules)
	}
}

func TestDeletionProtectionAndExecFromContext(t *testing.T) {
	_, tmpl := variant(t, "ServiceOptions")
	check(t, "deletion protection on", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{
				map[string]any{"Key": "deletion_protection.enabled", "Value": "true"},
			}),
		})
	})
	check(t, "ECS Exec on, three tasks", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{"EnableExecuteCommand": true, "DesiredCount": 3})
	})
}

// TestExistingVpc looks a VPC up by id (the lookup's answer is in the test
// app's context): no VPC is created, the tasks run in its private subnets,
// and the region-specific access-log grant is used.
func TestExistingVpc(t *testing.T) {
	template, tmpl := variant(t, "ExistingVpc")
	check(t, "no new VPC, NAT gateway or flow log", func() {
		tmpl.ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(0))
		tmpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(0))
		tmpl.ResourceCountIs(jsii.String("AWS::ECS::Service"), jsii.Number(1))
	})
	check(t, "the tasks run in the VPC's private subnets", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": map[string]any{
				"AssignPublicIp": "DISABLED",
				"Subnets":        []any{"subnet-00000000000000003", "subnet-00000000000000004"},
			}},
		})
	})
	if strings.Contains(string(template), "Elbv2AccountMap") {
		t.Error("a region-specific stack should not need the ELB account mapping")
	}
}

package tracing

import (
	"encoding/json"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// DefaultCloudWatchAgentImage is the CloudWatch agent the sidecar runs by
// default, from ECR Public. The image is FROM scratch, declares no USER and
// no VOLUME, and reads its configuration from CW_CONFIG_CONTENT.
const DefaultCloudWatchAgentImage = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300072.0b1766"

// CloudWatchAgentOptions configure the CloudWatch agent sidecar.
type CloudWatchAgentOptions struct {
	// Image replaces the agent's image; it must keep the layout of the ECR
	// Public image under /opt/aws/amazon-cloudwatch-agent.
	// Default: DefaultCloudWatchAgentImage.
	Image awsecs.ContainerImage
	// Config is the agent's own configuration (its JSON), in place of the
	// one NewSidecar writes; it must still receive on the task's loopback
	// what the app sends (XRayPort, OTLPGRPCPort, OTLPHTTPPort).
	// Default: traces only: X-Ray segments and the sampling proxy, OTLP, on
	// the task's loopback; local mode; the stack's region.
	Config *string
	// Statements are granted to the task role beside the X-Ray actions:
	// what a Config of your own needs for what it adds (CloudWatch metrics:
	// cloudwatch:PutMetricData; logs and EMF: logs:CreateLogStream,
	// logs:PutLogEvents, logs:DescribeLogStreams on its log groups;
	// Application Signals: its own). Default: none.
	Statements []awsiam.PolicyStatement
	// SampleRate, when set, has the app's OpenTelemetry SDK trace this share
	// of requests, 0..1, when no caller decided (OTEL_TRACES_SAMPLER
	// parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG): for an app that
	// does not read X-Ray's sampling rules itself.
	// Default: no sampler variables; the app decides, for example with
	// X-Ray's centralized rules through the collector's sampling proxy
	// (XRayPort on the task's loopback, as AWS_XRAY_DAEMON_ADDRESS says).
	SampleRate *float64
}

// CloudWatchAgent is the Amazon CloudWatch agent as the sidecar, the
// collector AWS recommends for OpenTelemetry: it stands in for the X-Ray
// daemon (segments on UDP 2000, the sampling proxy on TCP 2000), takes OTLP on
// 4317 and 4318, and sends traces to X-Ray.
func CloudWatchAgent(opts *CloudWatchAgentOptions) Collector {
	o := CloudWatchAgentOptions{}
	if opts != nil {
		o = *opts
	}
	return &o
}

// cwAgentConfigVar holds the agent's configuration: the container image
// reads it from there, so no file is mounted.
const cwAgentConfigVar = "CW_CONFIG_CONTENT"

func (o *CloudWatchAgentOptions) spec() *collectorSpec {
	image := o.Image
	if image == nil {
		image = awsecs.ContainerImage_FromRegistry(jsii.String(DefaultCloudWatchAgentImage), nil)
	}
	return &collectorSpec{
		name: "CloudWatch agent", containerName: "cloudwatch-agent",
		// uid 0, but with every Linux capability dropped (spec.noCapabilities):
		// the paths the agent writes are empty task volumes, which Fargate
		// creates owned by root with mode 0755 when the image declares no
		// VOLUME for them (the Amazon ECS Developer Guide, bind mounts), and
		// this image declares none. Any other uid cannot write them, and
		// the agent would exit at start. Root without capabilities writes
		// only where the owner may: those volumes; the root filesystem stays
		// read-only.
		user:           "0",
		noCapabilities: true,
		image:          image,
		command:        func(string, int) []string { return nil },
		environment: func(region string, memoryMiB int) *map[string]*string {
			config := cloudWatchAgentConfig(region)
			if o.Config != nil {
				config = *o.Config
			}
			// The agent's traces pipeline has no memory limiter and its
			// configuration no key for one (its translator builds receivers,
			// batch and the awsxray exporter; aws/amazon-cloudwatch-agent
			// translator/translate/otel/pipeline/xray/translator.go), so
			// what bounds it is the Go runtime's soft limit, at which its
			// collector works harder, and the container's hard limit.
			return &map[string]*string{
				cwAgentConfigVar: jsii.String(config),
				"GOMEMLIMIT":     jsii.String(strconv.Itoa(memoryMiB*4/5) + "MiB"),
			}
		},
		ports: otlpPorts(),
		// At start the agent writes its configuration (JSON, TOML, YAML)
		// under etc, logs under logs, and keeps state under var and /tmp
		// (aws/amazon-cloudwatch-agent tool/paths, paths_unix.go); each is
		// an empty task volume, so the root filesystem stays read-only.
		writable:       []string{"/opt/aws/amazon-cloudwatch-agent/etc", "/opt/aws/amazon-cloudwatch-agent/logs", "/opt/aws/amazon-cloudwatch-agent/var", "/tmp"},
		appEnvironment: otelAppEnvironment(o.SampleRate),
		statements:     o.Statements,
	}
}

// cloudWatchAgentConfig is the agent's configuration for this task: traces
// only, received on the task's loopback, sent to X-Ray in region. (No
// buffer_size_mb: the agent's OpenTelemetry translator reads none for
// traces; aws/amazon-cloudwatch-agent translator/translate/otel/receiver/
// awsxray/translator.go.)
func cloudWatchAgentConfig(region string) string {
	type endpoint struct {
		BindAddress string `json:"bind_address"`
	}
	var c struct {
		Traces struct {
			TracesCollected struct {
				XRay struct {
					BindAddress string   `json:"bind_address"`
					TCPProxy    endpoint `json:"tcp_proxy"`
				} `json:"xray"`
				OTLP struct {
					GRPCEndpoint string `json:"grpc_endpoint"`
					HTTPEndpoint string `json:"http_endpoint"`
				} `json:"otlp"`
			} `json:"traces_collected"`
			// No EC2 instance metadata on Fargate; the region is the stack's.
			LocalMode      bool   `json:"local_mode"`
			RegionOverride string `json:"region_override"`
		} `json:"traces"`
	}
	t := &c.Traces
	t.TracesCollected.XRay.BindAddress = loopback(XRayPort)
	t.TracesCollected.XRay.TCPProxy.BindAddress = loopback(XRayPort)
	t.TracesCollected.OTLP.GRPCEndpoint = loopback(OTLPGRPCPort)
	t.TracesCollected.OTLP.HTTPEndpoint = loopback(OTLPHTTPPort)
	t.LocalMode = true
	t.RegionOverride = region
	out, err := json.Marshal(c)
	if err != nil {
		panic(err) // strings, ints and bools always encode
	}
	return string(out)
}

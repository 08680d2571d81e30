package tracing

import (
	"encoding/json"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// DefaultADOTImage is the AWS Distro for OpenTelemetry collector the sidecar
// runs by default: v0.49.0 from ECR Public. The image is FROM scratch with
// /awscollector and /healthcheck, and sets no user.
const DefaultADOTImage = "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0"

// The ADOT collector's OTLP listeners, on the task's loopback.
const (
	OTLPGRPCPort = 4317
	OTLPHTTPPort = 4318
)

// ADOTCollectorOptions configure the ADOT collector sidecar.
type ADOTCollectorOptions struct {
	// Image replaces the collector's image; it must keep /awscollector and
	// /healthcheck, as the ECR Public image does.
	// Default: DefaultADOTImage.
	Image awsecs.ContainerImage
	// Config is the collector's own configuration (YAML or JSON), in place
	// of the one NewSidecar writes; it must still receive on the task's
	// loopback what the app sends (XRayPort, OTLPGRPCPort, OTLPHTTPPort).
	// Default: this task's traces only: awsxray and OTLP receivers on the
	// task's loopback, memory_limiter and batch, the awsxray exporter to the
	// stack's region, the health_check extension.
	Config *string
	// Statements are granted to the task role beside the X-Ray actions:
	// what a Config of your own needs for what it adds (the awsemf
	// exporter: logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents,
	// logs:DescribeLogStreams; prometheusremotewrite: aps:RemoteWrite).
	// Default: none.
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

// ADOTCollector is the AWS Distro for OpenTelemetry collector as the
// sidecar. It stands in for the X-Ray daemon (segments on UDP 2000, the
// sampling proxy on TCP 2000), takes OTLP on 4317 and 4318, and sends to
// X-Ray; the app is pointed at it with the OpenTelemetry SDK's standard
// variables.
func ADOTCollector(opts *ADOTCollectorOptions) Collector {
	o := ADOTCollectorOptions{}
	if opts != nil {
		o = *opts
	}
	return &o
}

// adotConfigVar holds the collector's configuration: the env config provider
// needs no file and no volume, so the root filesystem stays read-only.
const adotConfigVar = "AOT_CONFIG_CONTENT"

func (o *ADOTCollectorOptions) spec() *collectorSpec {
	image := o.Image
	if image == nil {
		image = awsecs.ContainerImage_FromRegistry(jsii.String(DefaultADOTImage), nil)
	}
	return &collectorSpec{
		name: "ADOT collector", containerName: "otel-collector",
		user:    "10001", // not root; replaces the image's own user, aoc (uid 4317)
		image:   image,
		command: func(string, int) []string { return []string{"--config=env:" + adotConfigVar} },
		environment: func(region string, memoryMiB int) *map[string]*string {
			config := adotConfig(region, memoryMiB)
			if o.Config != nil {
				config = *o.Config
			}
			return &map[string]*string{adotConfigVar: jsii.String(config)}
		},
		ports:      otlpPorts(),
		statements: o.Statements,
		// /healthcheck asks the health_check extension; it needs no shell.
		healthCheck: &awsecs.HealthCheck{
			Command: jsii.Strings("CMD", "/healthcheck"),
			// ECS's interval, timeout and retries (30 s, 5 s, 3), which
			// aws-cdk-lib writes when none is given; 10 s to start.
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(10)),
		},
		appEnvironment: otelAppEnvironment(o.SampleRate),
	}
}

// otlpPorts are a collector's listeners that take both X-Ray segments and
// OTLP.
func otlpPorts() []port {
	return append(append([]port{}, xrayPorts...),
		port{"otlp-grpc", OTLPGRPCPort, awsecs.Protocol_TCP},
		port{"otlp-http", OTLPHTTPPort, awsecs.Protocol_TCP})
}

// otelAppEnvironment points an app at a collector that takes OTLP, with
// OpenTelemetry's standard variables, beside the X-Ray SDK's.
func otelAppEnvironment(sampleRate *float64) func(string) map[string]string {
	return func(serviceName string) map[string]string {
		env := xrayAppEnvironment(serviceName)
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + loopback(OTLPHTTPPort)
		env["OTEL_SERVICE_NAME"] = serviceName
		if sampleRate != nil {
			env["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
			env["OTEL_TRACES_SAMPLER_ARG"] = strconv.FormatFloat(*sampleRate, 'g', -1, 64)
		}
		return env
	}
}

// adotConfig is the collector's configuration for this task and nothing
// more, as typed values; JSON is YAML, so it reads the encoding as it is.
func adotConfig(region string, memoryMiB int) string {
	type endpoint struct {
		Endpoint string `json:"endpoint"`
	}
	type pipeline struct {
		Receivers  []string `json:"receivers"`
		Processors []string `json:"processors"`
		Exporters  []string `json:"exporters"`
	}
	type config struct {
		Extensions struct {
			HealthCheck endpoint `json:"health_check"`
		} `json:"extensions"`
		Receivers struct {
			// awsxray takes X-Ray SDK segments and proxies their
			// sampling-rule calls, so an X-Ray SDK app keeps working.
			AWSXRay struct {
				Endpoint    string `json:"endpoint"`
				Transport   string `json:"transport"`
				ProxyServer struct {
					Endpoint string `json:"endpoint"`
					Region   string `json:"region"`
				} `json:"proxy_server"`
			} `json:"awsxray"`
			OTLP struct {
				Protocols struct {
					GRPC endpoint `json:"grpc"`
					HTTP endpoint `json:"http"`
				} `json:"protocols"`
			} `json:"otlp"`
		} `json:"receivers"`
		Processors struct {
			// memory_limiter refuses data before the container's hard limit.
			MemoryLimiter struct {
				CheckInterval string `json:"check_interval"`
				LimitMiB      int    `json:"limit_mib"`
				SpikeLimitMiB int    `json:"spike_limit_mib"`
			} `json:"memory_limiter"`
			Batch struct {
				Timeout string `json:"timeout"`
			} `json:"batch"`
		} `json:"processors"`
		Exporters struct {
			AWSXRay struct {
				Region string `json:"region"`
			} `json:"awsxray"`
		} `json:"exporters"`
		Service struct {
			Extensions []string            `json:"extensions"`
			Pipelines  map[string]pipeline `json:"pipelines"`
		} `json:"service"`
	}
	var c config
	c.Extensions.HealthCheck.Endpoint = loopback(13133)
	c.Receivers.AWSXRay.Endpoint = loopback(XRayPort)
	c.Receivers.AWSXRay.Transport = "udp"
	c.Receivers.AWSXRay.ProxyServer.Endpoint = loopback(XRayPort)
	c.Receivers.AWSXRay.ProxyServer.Region = region
	c.Receivers.OTLP.Protocols.GRPC.Endpoint = loopback(OTLPGRPCPort)
	c.Receivers.OTLP.Protocols.HTTP.Endpoint = loopback(OTLPHTTPPort)
	limit := memoryMiB * 4 / 5
	c.Processors.MemoryLimiter.CheckInterval = "1s"
	c.Processors.MemoryLimiter.LimitMiB = limit
	c.Processors.MemoryLimiter.SpikeLimitMiB = limit / 4
	c.Processors.Batch.Timeout = "1s"
	c.Exporters.AWSXRay.Region = region
	c.Service.Extensions = []string{"health_check"}
	c.Service.Pipelines = map[string]pipeline{"traces": {
		Receivers:  []string{"awsxray", "otlp"},
		Processors: []string{"memory_limiter", "batch"},
		Exporters:  []string{"awsxray"},
	}}
	out, err := json.Marshal(c)
	if err != nil {
		panic(err) // strings, ints, slices and maps always encode
	}
	return string(out)
}

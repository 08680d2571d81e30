package tracedtask

import (
	"encoding/json"
	"strconv"
)

// Collector chooses the sidecar that receives the app's traces.
type Collector string

const (
	// CollectorXRayDaemon is the AWS X-Ray daemon: the default until the
	// X-Ray SDKs and daemon reach end of support (2027-02-25).
	CollectorXRayDaemon Collector = "xray-daemon"
	// CollectorADOT is the AWS Distro for OpenTelemetry collector, set up to
	// stand in for the daemon (X-Ray segments on UDP 2000, the sampling proxy
	// on TCP 2000) and to take OTLP on 4317 (gRPC) and 4318 (HTTP).
	CollectorADOT Collector = "adot"
)

// DefaultCollectorImage is the ADOT collector release the sidecar runs when
// Collector is CollectorADOT: v0.49.0 (2026-08-25, OpenTelemetry Collector
// v0.156.0), the newest documented release found. The image is FROM scratch
// with /awscollector and /healthcheck, and sets no user.
const DefaultCollectorImage = "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0"

// Ports and addresses the collector listens on, all on the task's loopback.
const (
	OTLPGRPCPort      = 4317
	OTLPHTTPPort      = 4318
	collectorHealth   = "127.0.0.1:13133"
	collectorUser     = "10001" // any non-root uid: the image has no user of its own
	collectorEnvVar   = "AOT_CONFIG_CONTENT"
	memoryLimiterFrac = 0.8 // of the container's hard limit, for the memory_limiter processor
)

// CollectorConfig is the OpenTelemetry Collector configuration this task
// needs and nothing more, as typed values. JSON is YAML, so its JSON encoding
// is a configuration the collector reads as it is.
type CollectorConfig struct {
	Extensions CollectorExtensions `json:"extensions"`
	Receivers  CollectorReceivers  `json:"receivers"`
	Processors CollectorProcessors `json:"processors"`
	Exporters  CollectorExporters  `json:"exporters"`
	Service    CollectorService    `json:"service"`
}

// CollectorExtensions holds the health_check extension, which the image's
// /healthcheck binary asks.
type CollectorExtensions struct {
	HealthCheck Endpoint `json:"health_check"`
}

// Endpoint is a host:port to listen on.
type Endpoint struct {
	Endpoint string `json:"endpoint"`
}

// CollectorReceivers are the two ways traces come in.
type CollectorReceivers struct {
	// AWSXRay takes the X-Ray SDK's segments, so an unchanged X-Ray SDK app
	// keeps working, and proxies its sampling-rule calls.
	AWSXRay AWSXRayReceiver `json:"awsxray"`
	// OTLP takes OpenTelemetry-instrumented code's spans.
	OTLP OTLPReceiver `json:"otlp"`
}

// AWSXRayReceiver is the awsxray receiver: segments over UDP, and the proxy
// for GetSamplingRules/GetSamplingTargets over TCP on the same port.
type AWSXRayReceiver struct {
	Endpoint    string          `json:"endpoint"`
	Transport   string          `json:"transport"`
	ProxyServer XRayProxyServer `json:"proxy_server"`
}

// XRayProxyServer is the awsxray receiver's sampling proxy.
type XRayProxyServer struct {
	Endpoint string `json:"endpoint"`
	Region   string `json:"region"`
}

// OTLPReceiver is the otlp receiver with both of its protocols.
type OTLPReceiver struct {
	Protocols OTLPProtocols `json:"protocols"`
}

// OTLPProtocols are the otlp receiver's gRPC and HTTP listeners.
type OTLPProtocols struct {
	GRPC Endpoint `json:"grpc"`
	HTTP Endpoint `json:"http"`
}

// CollectorProcessors bound memory first, then batch.
type CollectorProcessors struct {
	MemoryLimiter MemoryLimiter `json:"memory_limiter"`
	Batch         Batch         `json:"batch"`
}

// MemoryLimiter refuses data before the container reaches its hard limit.
type MemoryLimiter struct {
	CheckInterval string `json:"check_interval"`
	LimitMiB      int    `json:"limit_mib"`
	SpikeLimitMiB int    `json:"spike_limit_mib"`
}

// Batch groups spans into fewer PutTraceSegments calls.
type Batch struct {
	Timeout string `json:"timeout"`
}

// CollectorExporters send traces out: to X-Ray only.
type CollectorExporters struct {
	AWSXRay AWSXRayExporter `json:"awsxray"`
}

// AWSXRayExporter is the awsxray exporter.
type AWSXRayExporter struct {
	Region string `json:"region"`
}

// CollectorService wires the pipeline.
type CollectorService struct {
	Extensions []string            `json:"extensions"`
	Pipelines  map[string]Pipeline `json:"pipelines"`
}

// Pipeline names the components one signal goes through.
type Pipeline struct {
	Receivers  []string `json:"receivers"`
	Processors []string `json:"processors"`
	Exporters  []string `json:"exporters"`
}

// NewCollectorConfig returns the configuration for a collector with
// memoryMiB of memory that sends to region (a token is fine: it is resolved
// where the configuration is used).
func NewCollectorConfig(region string, memoryMiB int) CollectorConfig {
	loopback := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	limit := int(float64(memoryMiB) * memoryLimiterFrac)
	return CollectorConfig{
		Extensions: CollectorExtensions{HealthCheck: Endpoint{collectorHealth}},
		Receivers: CollectorReceivers{
			AWSXRay: AWSXRayReceiver{
				Endpoint:    loopback(DaemonPort),
				Transport:   "udp",
				ProxyServer: XRayProxyServer{Endpoint: loopback(DaemonPort), Region: region},
			},
			OTLP: OTLPReceiver{Protocols: OTLPProtocols{
				GRPC: Endpoint{loopback(OTLPGRPCPort)},
				HTTP: Endpoint{loopback(OTLPHTTPPort)},
			}},
		},
		Processors: CollectorProcessors{
			MemoryLimiter: MemoryLimiter{CheckInterval: "1s", LimitMiB: limit, SpikeLimitMiB: limit / 4},
			Batch:         Batch{Timeout: "1s"},
		},
		Exporters: CollectorExporters{AWSXRay: AWSXRayExporter{Region: region}},
		Service: CollectorService{
			Extensions: []string{"health_check"},
			Pipelines: map[string]Pipeline{"traces": {
				Receivers:  []string{"awsxray", "otlp"},
				Processors: []string{"memory_limiter", "batch"},
				Exporters:  []string{"awsxray"},
			}},
		},
	}
}

// String renders the configuration as the collector reads it.
func (c CollectorConfig) String() string {
	out, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain strings, ints and slices always encode
	}
	return string(out)
}

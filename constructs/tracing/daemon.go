package tracing

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
)

// DefaultDaemonImage is the X-Ray daemon the sidecar runs by default: 3.6.6
// (2026-07-14) from ECR Public. The image is FROM scratch (no shell, no curl)
// and runs as user xray, uid 10001.
const DefaultDaemonImage = "public.ecr.aws/xray/aws-xray-daemon:3.6.6"

// XRayDaemonOptions configure the X-Ray daemon sidecar.
type XRayDaemonOptions struct {
	// Image replaces the daemon's image; it must keep /xray as the daemon's
	// path, as the ECR Public and Docker Hub images do.
	// Default: DefaultDaemonImage.
	Image awsecs.ContainerImage
}

// XRayDaemon is the AWS X-Ray daemon as the sidecar: the app traces with an
// X-Ray SDK, which the daemon serves sampling rules to.
func XRayDaemon(opts *XRayDaemonOptions) Collector {
	o := XRayDaemonOptions{}
	if opts != nil {
		o = *opts
	}
	return &o
}

func (o *XRayDaemonOptions) spec() *collectorSpec {
	image := o.Image
	if image == nil {
		image = awsecs.ContainerImage_FromRegistry(jsii.String(DefaultDaemonImage), nil)
	}
	return &collectorSpec{
		name: "X-Ray daemon", containerName: "xray-daemon",
		user:  "10001", // the image's USER xray, numeric: ECS needs no /etc/passwd entry then
		image: image,
		// The image's ENTRYPOINT binds 0.0.0.0; naming the binary here
		// replaces it, so that every flag is in the template.
		entryPoint: jsii.Strings("/xray"),
		command: func(region string, memoryMiB int) []string {
			return []string{
				"-b", loopback(XRayPort), // UDP: segments from the app
				"-t", loopback(XRayPort), // TCP: the sampling-rule proxy
				"-o",         // local mode: no EC2 instance metadata on Fargate
				"-n", region, // the region to send to, never guessed
				// A quarter of the container's memory for the segment
				// buffer; the daemon's default is 1% of the host's.
				"-m", strconv.Itoa(memoryMiB / 4),
				"-l", "info",
			}
		},
		environment: noEnvironment,
		ports:       xrayPorts,
		// No health check: the image has no shell and no curl to run one,
		// and a check that cannot run marks the container unhealthy.
		appEnvironment: xrayAppEnvironment,
	}
}

// The Cruddur stack in plain JavaScript: the same resources as the Go app
// (cruddur.go and constructs/), against the same aws-cdk-lib and cdk-nag, so
// that bench/run.sh can measure what Go and jsii add. With BENCH_SERVICES=N it
// builds bench/scale's stack instead: N traced services in one VPC.
'use strict';
const fs = require('fs');
const path = require('path');
const cdk = require('aws-cdk-lib');
const { Aspects, Duration, RemovalPolicy, Stack } = cdk;
const ec2 = require('aws-cdk-lib/aws-ec2');
const ecs = require('aws-cdk-lib/aws-ecs');
const elbv2 = require('aws-cdk-lib/aws-elasticloadbalancingv2');
const iam = require('aws-cdk-lib/aws-iam');
const logs = require('aws-cdk-lib/aws-logs');
const s3 = require('aws-cdk-lib/aws-s3');
const xray = require('aws-cdk-lib/aws-xray');
const { Fact, FactName } = require('aws-cdk-lib/region-info');
const { AwsSolutionsChecks, NagSuppressions } = require('cdk-nag');
const { Construct } = require('constructs');

const root = path.join(__dirname, '..', '..');

function tracedTask(scope, id, image, serviceName) {
  const c = new Construct(scope, id);
  const taskRole = new iam.Role(c, 'TaskRole', {
    assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    description: `Task role of the traced ${serviceName} task: sends traces to X-Ray`,
    inlinePolicies: {
      XRayDaemonWrite: new iam.PolicyDocument({ statements: [new iam.PolicyStatement({
        sid: 'XRayDaemonWrite',
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'],
        resources: ['*'],
      })] }),
    },
  });
  const td = new ecs.FargateTaskDefinition(c, 'Resource', {
    cpu: 256, memoryLimitMiB: 512, taskRole,
    runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
  });
  const daemonLogs = new logs.LogGroup(c, 'DaemonLogs', { retention: logs.RetentionDays.ONE_MONTH });
  const daemon = td.addContainer('xray-daemon', {
    image: ecs.ContainerImage.fromRegistry('public.ecr.aws/xray/aws-xray-daemon:3.6.6'),
    entryPoint: ['/xray'],
    command: ['-b', '127.0.0.1:2000', '-t', '127.0.0.1:2000', '-o', '-n', Stack.of(c).region, '-m', '64', '-l', 'info'],
    cpu: 32, memoryReservationMiB: 256, memoryLimitMiB: 256,
    portMappings: [
      { name: 'xray-udp', containerPort: 2000, protocol: ecs.Protocol.UDP },
      { name: 'xray-tcp', containerPort: 2000, protocol: ecs.Protocol.TCP },
    ],
    essential: false, enableRestartPolicy: true, restartAttemptPeriod: Duration.seconds(60),
    user: '10001', readonlyRootFilesystem: true,
    logging: ecs.LogDrivers.awsLogs({ logGroup: daemonLogs, streamPrefix: 'xray-daemon' }),
  });
  const appLogs = new logs.LogGroup(c, 'AppLogs', { retention: logs.RetentionDays.ONE_MONTH });
  const app = td.addContainer('app', {
    image,
    environment: { AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000', AWS_XRAY_TRACING_NAME: serviceName, PORT: '4567' },
    portMappings: [{ name: 'http', containerPort: 4567, protocol: ecs.Protocol.TCP }],
    essential: true, memoryLimitMiB: 256,
    healthCheck: {
      command: ['CMD', '/cruddur-backend', '-healthcheck'],
      interval: Duration.seconds(30), timeout: Duration.seconds(5), retries: 3, startPeriod: Duration.seconds(10),
    },
    user: '65532:65532', readonlyRootFilesystem: true,
    logging: ecs.LogDrivers.awsLogs({ logGroup: appLogs, streamPrefix: 'app' }),
  });
  app.addContainerDependencies({ container: daemon, condition: ecs.ContainerDependencyCondition.START });
  NagSuppressions.addResourceSuppressions(taskRole, [{ id: 'AwsSolutions-IAM5', appliesTo: ['Resource::*'], reason: 'X-Ray actions have no resource-level permissions.' }]);
  NagSuppressions.addResourceSuppressions(td.executionRole, [{ id: 'AwsSolutions-IAM5', appliesTo: ['Resource::*'], reason: 'ecr:GetAuthorizationToken has no resource-level permissions.' }], true);
  NagSuppressions.addResourceSuppressions(td, [{ id: 'AwsSolutions-ECS2', reason: 'No secrets in the environment.' }]);
  return { td, app, appLogs, daemonLogs };
}

function tracedService(scope, id, task, vpc) {
  const c = new Construct(scope, id);
  const cluster = new ecs.Cluster(c, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
  const sg = new ec2.SecurityGroup(c, 'TasksSecurityGroup', { vpc, description: 'Traced service tasks', allowAllOutbound: false });
  sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs');
  const svc = new ecs.FargateService(c, 'Resource', {
    cluster, taskDefinition: task.td, desiredCount: 2, minHealthyPercent: 100, maxHealthyPercent: 200,
    circuitBreaker: { enable: true, rollback: true }, enableExecuteCommand: false,
    platformVersion: ecs.FargatePlatformVersion.LATEST, assignPublicIp: false,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, securityGroups: [sg],
    healthCheckGracePeriod: Duration.seconds(60),
  });
  const bucket = new s3.Bucket(c, 'AccessLogs', {
    encryption: s3.BucketEncryption.S3_MANAGED, enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, versioned: true,
    lifecycleRules: [{ expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(1) }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  NagSuppressions.addResourceSuppressions(bucket, [{ id: 'AwsSolutions-S1', reason: 'The access log bucket.' }]);
  const albSG = new ec2.SecurityGroup(c, 'LoadBalancerSecurityGroup', { vpc, description: 'Traced service load balancer', allowAllOutbound: false });
  const alb = new elbv2.ApplicationLoadBalancer(c, 'LoadBalancer', {
    vpc, internetFacing: true, vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC }, securityGroup: albSG,
    deletionProtection: false, dropInvalidHeaderFields: true,
  });
  // The environment-agnostic access-log grant of stack/stack.go.
  const stack = Stack.of(c);
  alb.setAttribute('access_logs.s3.enabled', 'true');
  alb.setAttribute('access_logs.s3.bucket', bucket.bucketName);
  alb.setAttribute('access_logs.s3.prefix', 'alb');
  const objects = bucket.arnForObjects(`alb/AWSLogs/${stack.account}/*`);
  const delivery = new iam.ServicePrincipal('delivery.logs.amazonaws.com');
  bucket.addToResourcePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], principals: [new iam.AccountPrincipal(stack.regionalFact(FactName.ELBV2_ACCOUNT))], resources: [objects] }));
  bucket.addToResourcePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], principals: [delivery], resources: [objects], conditions: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control' } } }));
  bucket.addToResourcePolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketAcl'], principals: [delivery], resources: [bucket.bucketArn] }));
  alb.node.addDependency(bucket.policy);
  const listener = alb.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, open: true });
  listener.addTargets('App', {
    port: 4567, protocol: elbv2.ApplicationProtocol.HTTP,
    targets: [svc.loadBalancerTarget({ containerName: task.app.containerName, containerPort: 4567 })],
    healthCheck: { path: '/api/health-check', healthyHttpCodes: '200', interval: Duration.seconds(15), timeout: Duration.seconds(5), healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
    deregistrationDelay: Duration.seconds(30),
  });
  NagSuppressions.addResourceSuppressions(albSG, [{ id: 'AwsSolutions-EC23', reason: 'A public API.' }]);
  return alb;
}

function xrayResources(stack, serviceName) {
  new xray.CfnGroup(new Construct(stack, 'Group'), 'Resource', { groupName: 'Cruddur', filterExpression: `service("${serviceName}")` });
  const file = JSON.parse(fs.readFileSync(path.join(root, 'aws', 'json', 'xray.json'), 'utf8')).SamplingRule;
  new xray.CfnSamplingRule(new Construct(stack, 'SamplingRule'), 'Resource', { samplingRule: {
    ruleName: file.RuleName, priority: file.Priority, fixedRate: file.FixedRate, reservoirSize: file.ReservoirSize,
    serviceName: file.ServiceName, serviceType: file.ServiceType, host: file.Host, httpMethod: file.HTTPMethod,
    urlPath: file.URLPath, resourceArn: file.ResourceARN, version: file.Version,
  } });
}

const app = new cdk.App();
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
const n = process.env.BENCH_SERVICES;
if (n) {
  const stack = new Stack(app, 'Scale');
  xrayResources(stack, 'Cruddur');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const image = ecs.ContainerImage.fromRegistry('public.ecr.aws/example/cruddur-backend:1.0.0');
  for (let i = 1; i <= Number(n); i++) {
    tracedService(stack, `Service${i}`, tracedTask(stack, `Task${i}`, image, 'Cruddur'), vpc);
  }
} else {
  const stack = new Stack(app, 'Cruddur', { description: 'Cruddur tracing: the X-Ray group, sampling rule and traced Fargate service of Cruddur' });
  xrayResources(stack, 'Cruddur');
  const task = tracedTask(stack, 'Task', ecs.ContainerImage.fromAsset(path.join(root, 'backend'), { platform: require('aws-cdk-lib/aws-ecr-assets').Platform.LINUX_AMD64 }), 'Cruddur');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2, natGateways: 1, restrictDefaultSecurityGroup: true,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
    ],
  });
  vpc.addFlowLog('FlowLog', {
    destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(stack, 'VpcFlowLogs', { retention: logs.RetentionDays.ONE_MONTH })),
    trafficType: ec2.FlowLogTrafficType.REJECT,
  });
  const alb = tracedService(stack, 'Service', task, vpc);
  new cdk.CfnOutput(stack, 'ServiceUrl', { value: `http://${alb.loadBalancerDnsName}` });
  new cdk.CfnOutput(stack, 'AppLogGroupName', { value: task.appLogs.logGroupName });
  new cdk.CfnOutput(stack, 'DaemonLogGroupName', { value: task.daemonLogs.logGroupName });
  new cdk.CfnOutput(stack, 'XRayGroupName', { value: 'Cruddur' });
  new cdk.CfnOutput(stack, 'XRayTracesUrl', { value: `https://${stack.region}.console.aws.amazon.com/cloudwatch/home?region=${stack.region}#xray:traces/query` });
}
app.synth();

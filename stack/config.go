package stack

import (
	"cmp"
	_ "crypto/sha256" // registers sha256 for go-digest, so images pin by digest
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/aws/aws-xray-sdk-go/v2/pattern"
	"github.com/aws/jsii-runtime-go"
	"github.com/distribution/reference"

	"github.com/cruddur/tracing/constructs/githubaccess"
	"github.com/cruddur/tracing/constructs/tracing"
	"github.com/cruddur/tracing/constructs/xray"
	"github.com/cruddur/tracing/stack/stages"
)

// The context keys, each read once in LoadConfig with its default there.
const (
	prefix                   = "cruddur:"
	KeyServiceName           = prefix + "serviceName"
	keyGroupName             = prefix + "groupName"
	keyGroupFilterExpression = prefix + "groupFilterExpression"
	keyInsightsEnabled       = prefix + "insightsEnabled"
	keyInsightsNotifications = prefix + "insightsNotificationsEnabled"
	KeySamplingRuleFile      = prefix + "samplingRuleFile"
	keySamplingRuleFiles     = prefix + "samplingRuleFiles"
	keyAccount               = prefix + "account"
	keyRegion                = prefix + "region"
	keyAppImage              = prefix + "appImage"
	KeyAppPort               = prefix + "appPort"
	keyTaskCPU               = prefix + "taskCpu"
	KeyTaskMemoryMiB         = prefix + "taskMemoryMiB"
	KeyCollector             = prefix + "collector"
	keyDaemonImage           = prefix + "daemonImage"
	keyCollectorImage        = prefix + "collectorImage"
	keyLogRetentionDays      = prefix + "logRetentionDays"
	keyVpcID                 = prefix + "vpcId"
	keyNatGateways           = prefix + "natGateways"
	keyDesiredCount          = prefix + "desiredCount"
	keyMaxCount              = prefix + "maxCount"
	keyEcsExec               = prefix + "ecsExec"
	keyLoadBalancer          = prefix + "loadBalancer"
	keyCertificateArn        = prefix + "certificateArn"
	keyDeletionProtection    = prefix + "deletionProtection"
	keyAlarmEmail            = prefix + "alarmEmail"
	keySlowRequestSeconds    = prefix + "slowRequestSeconds"
	keyFaultTracesThreshold  = prefix + "faultTracesThreshold"
	keySlowTracesThreshold   = prefix + "slowTracesThreshold"
	keyServerErrorsThreshold = prefix + "serverErrorsThreshold"
	keyLatencyP99Seconds     = prefix + "latencyP99Seconds"
	keyNoTracesRequests      = prefix + "noTracesRequestsThreshold"
	keyTransactionSearch     = prefix + "transactionSearch"
	keyTransactionSearchPct  = prefix + "transactionSearchIndexingPercent"
	keyGitHubProviderExists  = prefix + "githubOidcProviderExists"
	keySamplingRuleQuota     = prefix + "samplingRuleQuota"
)

// retiredStageKey chose the stage before stages were stacks (package
// stages); it is refused with a pointer to them.
const retiredStageKey = prefix + "stage"

// The collectors cruddur:collector names.
const (
	collectorXRayDaemon      = "xray-daemon"
	collectorADOT            = "adot"
	collectorCloudWatchAgent = "cloudwatch-agent"
)

// Collectors are every collector cruddur:collector may name (its default is
// readConfig's).
var Collectors = []string{collectorXRayDaemon, collectorADOT, collectorCloudWatchAgent}

// Config is what the Cruddur stack is built from: CDK context, read and
// checked before any construct exists. An empty string is "not set". The
// platform's settings are the stack's; the service's are its traced
// service's (addService takes them).
type Config struct {
	// Stage is the stage this configuration is for (package stages): its
	// stack name, its name suffix, and its posture.
	Stage stages.Stage
	Platform
	Service
}

// Platform is what the stack's services share: where it runs, its
// network, its logs, its alarm topic, and the account's settings.
type Platform struct {
	// Account and Region are the target environment; empty is
	// environment-agnostic.
	Account, Region string
	// LogRetentionDays is how long every log group keeps its logs.
	LogRetentionDays int
	// VpcID names an existing VPC; empty makes one with NatGateways.
	VpcID       string
	NatGateways int
	// AlarmEmail, when set, subscribes to the alarm topic.
	AlarmEmail string
	// TransactionSearch turns on X-Ray Transaction Search for the account
	// and region, indexing TransactionSearchIndexingPercent of spans.
	TransactionSearch                bool
	TransactionSearchIndexingPercent int
	// Repository is the GitHub repository whose environments the stage's
	// access stack trusts (stages.Repository; stages.PlaceholderRepository
	// until it is filled in). GitHubProviderExists says the account has
	// GitHub's OIDC provider already, so no access stack creates it.
	Repository           string
	GitHubProviderExists bool
	// SamplingRuleQuota is the account's quota of custom sampling rules per
	// region, which CheckSingletons holds every stage's rules to.
	SamplingRuleQuota int
	// NotDeployable says what the stage still needs from the team
	// (stages.Stage.Deployable, over the values above as the stage and
	// context give them, not as the CLI's credentials would fill them in);
	// nil when nothing. AccessNotDeployable is the same for the access
	// stack (stages.Stage.AccessDeployable).
	NotDeployable, AccessNotDeployable error
}

// Service is one traced service: its names, X-Ray group and rules, task,
// Fargate service and load balancer, and its alarms' thresholds.
type Service struct {
	// ServiceName is the one name the group's filter, the sampling rule's
	// ServiceName and the backend's traces share: cruddur:serviceName and
	// the stage's NameSuffix. ServiceFilter selects its traces, and starts
	// every group's filter.
	ServiceName, ServiceFilter string
	// GroupName names the X-Ray group; GroupFilterExpression, when set,
	// replaces service("ServiceName") as its filter.
	GroupName, GroupFilterExpression string
	// InsightsEnabled and InsightsNotificationsEnabled configure X-Ray
	// Insights on the group.
	InsightsEnabled, InsightsNotificationsEnabled bool
	// SamplingRuleFile is the service's rule file; SamplingRule its
	// content. SamplingRuleFiles are further rules, SamplingRules theirs.
	SamplingRuleFile  string
	SamplingRule      *xray.SamplingRuleProps
	SamplingRuleFiles []string
	SamplingRules     []*xray.SamplingRuleProps
	// AppImage is a prebuilt app image; empty builds backend/ as an asset.
	AppImage string
	// AppPort is the port the backend serves on; TaskCPU and TaskMemoryMiB
	// size the Fargate task.
	AppPort, TaskCPU, TaskMemoryMiB int
	// Collector is one of Collectors (cruddur:collector); DaemonImage
	// replaces the daemon's image, CollectorImage the others' (empty: the
	// construct's pin).
	Collector, DaemonImage, CollectorImage string
	// DesiredCount is how many tasks run at least (0 pauses the service);
	// MaxCount how many the scaler may run at most.
	DesiredCount, MaxCount int
	// EcsExec turns on ECS Exec.
	EcsExec bool
	// LoadBalancer puts an Application Load Balancer in front;
	// CertificateArn adds HTTPS; DeletionProtection protects the balancer.
	LoadBalancer       bool
	CertificateArn     string
	DeletionProtection bool
	// SlowRequestSeconds is where the slow-request group starts.
	SlowRequestSeconds float64
	// FaultTracesThreshold and SlowTracesThreshold are the sampled traces
	// in 5 minutes that raise the fault and slow alarms;
	// ServerErrorsThreshold the 5xx responses in 5 minutes, and
	// LatencyP99Seconds the p99 response time for 15 minutes, that raise
	// the load balancer's.
	FaultTracesThreshold, SlowTracesThreshold, ServerErrorsThreshold int
	LatencyP99Seconds                                                float64
	// NoTracesRequestsThreshold is the requests in each 5 minutes that,
	// with no trace in the service's group for 15 minutes, raise the
	// no-traces alarm.
	NoTracesRequestsThreshold int
}

// maxGroupNameLen leaves room in X-Ray's 32 characters for the
// faultsSuffix of the faults group.
const maxGroupNameLen = 32 - len(faultsSuffix)

// faultsSuffix and slowSuffix name the service's faults and slow-request
// groups after its group.
const (
	faultsSuffix = "-faults"
	slowSuffix   = "-slow"
)

// LoadConfig reads one stage's configuration: the stage's own values (package
// stages), CDK context over them (cdk.json and `-c key=value`, which apply to
// every stage), and the environment the CDK CLI sets. Every error names the
// context key (or the file and field), the bad value, and what is expected.
func LoadConfig(stage stages.Stage, ctx map[string]any, getenv func(string) string) (*Config, error) {
	if stage.Posture == (stages.Posture{}) {
		// A zero posture would keep logs for 0 days: named here instead.
		return nil, fmt.Errorf("%s: stage %s: Posture: not set; expected stages.Relaxed, stages.Guarded or a posture of its own", stages.File, stage.Name)
	}
	r := &contextReader{ctx: ctx, stack: stage.StackName}
	c, service := readConfig(stage, r)
	if r.err != nil {
		return nil, r.err
	}
	if err := refuseRetiredStageKey(ctx); err != nil {
		return nil, err
	}
	if err := r.unknownKeys(); err != nil {
		return nil, err
	}
	effective := stage
	effective.Account, effective.Region, effective.CertificateArn, effective.AlarmEmail = c.Account, c.Region, c.CertificateArn, c.AlarmEmail
	c.NotDeployable = effective.Deployable()
	c.AccessNotDeployable = effective.AccessDeployable()
	// The CLI always sets CDK_DEFAULT_REGION (us-east-1 when nothing is
	// configured) but CDK_DEFAULT_ACCOUNT only when it found credentials, so
	// its environment is taken only with both: a machine without an AWS
	// profile keeps the environment-agnostic template.
	if c.Account == "" && c.Region == "" && getenv("CDK_DEFAULT_ACCOUNT") != "" && getenv("CDK_DEFAULT_REGION") != "" {
		c.Account, c.Region = getenv("CDK_DEFAULT_ACCOUNT"), getenv("CDK_DEFAULT_REGION")
	}
	k := &checker{r: r, stage: stage}
	k.teamsValues(c)
	c.check(k, ctx, service)
	postureChecks(c, k.check)
	if r.err != nil {
		return nil, r.err
	}
	if err := c.loadRules(service); err != nil {
		return nil, err
	}
	return c, nil
}

// readConfig reads every key, with its default; the stage's values are the
// defaults of the keys that can set them. It returns the service's name
// before the stage's suffix.
func readConfig(stage stages.Stage, r *contextReader) (*Config, string) {
	posture := stage.Posture
	service := r.str(KeyServiceName, "Cruddur")
	c := &Config{Stage: stage}
	c.ServiceName = service + stage.NameSuffix
	c.GroupFilterExpression = r.str(keyGroupFilterExpression, "")
	c.InsightsEnabled = r.boolean(keyInsightsEnabled, false)
	c.SamplingRuleFile = r.str(KeySamplingRuleFile, "aws/json/xray.json")
	c.SamplingRuleFiles = r.list(keySamplingRuleFiles, []string{"aws/json/health-check.json"})
	c.Account = r.str(keyAccount, stage.Account)
	c.Region = r.str(keyRegion, stage.Region)
	c.AppImage = r.str(keyAppImage, "")
	c.AppPort = r.integer(KeyAppPort, 4567, 1, 65535)
	c.TaskCPU = r.integer(keyTaskCPU, 256, 256, 16384)
	c.TaskMemoryMiB = r.integer(KeyTaskMemoryMiB, 512, 512, 122880)
	c.Collector = r.str(KeyCollector, collectorXRayDaemon)
	c.DaemonImage = r.str(keyDaemonImage, "")
	c.CollectorImage = r.str(keyCollectorImage, "")
	c.LogRetentionDays = r.integer(keyLogRetentionDays, posture.LogRetentionDays, 1, 3653)
	c.VpcID = r.str(keyVpcID, "")
	c.NatGateways = r.integer(keyNatGateways, posture.NatGateways, 1, 2)
	c.DesiredCount = r.integer(keyDesiredCount, 2, 0, 100)
	c.MaxCount = r.integer(keyMaxCount, 10, 1, 100)
	c.EcsExec = r.boolean(keyEcsExec, false)
	c.LoadBalancer = r.boolean(keyLoadBalancer, true)
	c.CertificateArn = r.str(keyCertificateArn, stage.CertificateArn)
	c.DeletionProtection = r.boolean(keyDeletionProtection, posture.Protected)
	c.AlarmEmail = r.str(keyAlarmEmail, stage.AlarmEmail)
	c.SlowRequestSeconds = r.number(keySlowRequestSeconds, 1, 0.001, 3600)
	c.FaultTracesThreshold = r.integer(keyFaultTracesThreshold, 5, 1, 1000000)
	c.SlowTracesThreshold = r.integer(keySlowTracesThreshold, 10, 1, 1000000)
	c.ServerErrorsThreshold = r.integer(keyServerErrorsThreshold, 10, 1, 1000000)
	c.LatencyP99Seconds = r.number(keyLatencyP99Seconds, 1, 0.001, 3600)
	c.NoTracesRequestsThreshold = r.integer(keyNoTracesRequests, 20, 1, 1000000)
	c.TransactionSearch = r.boolean(keyTransactionSearch, false)
	c.TransactionSearchIndexingPercent = r.integer(keyTransactionSearchPct, 1, 0, 100)
	c.Repository = cmp.Or(stages.Repository, stages.PlaceholderRepository)
	c.GitHubProviderExists = r.boolean(keyGitHubProviderExists, false)
	c.SamplingRuleQuota = r.integer(keySamplingRuleQuota, defaultSamplingRuleQuota, 1, 10000)
	c.GroupName = r.str(keyGroupName, service) + stage.NameSuffix
	c.InsightsNotificationsEnabled = r.boolean(keyInsightsNotifications, c.InsightsEnabled)
	return c, service
}

// refuseRetiredStageKey points cruddur:stage, in any case, to the stages.
func refuseRetiredStageKey(ctx map[string]any) error {
	for k := range ctx {
		if rest, ours := nearlyOurs(k); ours && strings.EqualFold(rest, "stage") {
			var stacks []string
			for _, s := range stages.All {
				stacks = append(stacks, s.StackName+" ("+s.Name+")")
			}
			return fmt.Errorf("context %s: unknown key: each stage is a stack of its own now; expected no %s, and the stack of the stage, one of %s (%s)", k, retiredStageKey, strings.Join(stacks, ", "), stages.File)
		}
	}
	return nil
}

// checker keeps the first error of LoadConfig's checks, naming the key.
type checker struct {
	r     *contextReader
	stage stages.Stage
}

// check records err, if it is the first, as the key's.
func (k *checker) check(key string, err error) {
	if err != nil && k.r.err == nil {
		k.r.err = fmt.Errorf("context %s: %w", k.r.name(key), err)
	}
}

// teams records err for a value only the team knows, where it was set: the
// context key, or the stage's field in stages.go.
func (k *checker) teams(key, field string, err error) {
	if k.r.set(key) || err == nil || k.r.err != nil {
		k.check(key, err)
		return
	}
	k.r.err = fmt.Errorf("%s: stage %s: %s: %w", stages.File, k.stage.Name, field, err)
}

// teamsValues checks the values only the team knows as package stages
// checks them.
func (k *checker) teamsValues(c *Config) {
	if c.Account != "" {
		k.teams(keyAccount, "Account", stages.CheckAccount(c.Account))
	}
	if c.Region != "" {
		k.teams(keyRegion, "Region", stages.CheckRegion(c.Region))
	}
	if stages.Repository != "" && k.r.err == nil {
		if err := githubaccess.CheckRepository(stages.Repository); err != nil {
			k.r.err = fmt.Errorf("%s: Repository: %w", stages.File, err)
		}
	}
	if c.CertificateArn != "" && c.CertificateArn != stages.PlaceholderCertificateArn {
		k.teams(keyCertificateArn, "CertificateArn", stages.CheckCertificateArn(c.CertificateArn, c.Account, c.Region))
	}
	if c.AlarmEmail != "" {
		k.teams(keyAlarmEmail, "AlarmEmail", stages.CheckEmail(c.AlarmEmail))
	}
}

// check checks what X-Ray, ECS and the app would refuse, and what the
// settings contradict each other in.
func (c *Config) check(k *checker, ctx map[string]any, service string) {
	check := k.check
	check(KeyServiceName, xray.ValidateServiceName(service))
	filter, err := xray.ServiceFilter(c.ServiceName) // with the stage's suffix
	check(KeyServiceName, err)
	c.ServiceFilter = filter
	if !slices.Contains(Collectors, c.Collector) {
		var choices []string
		for _, name := range Collectors {
			choice := strconv.Quote(name)
			if name == k.r.defaults[KeyCollector] {
				choice += " (the default)"
			}
			choices = append(choices, choice)
		}
		check(KeyCollector, fmt.Errorf("%s is not a collector; expected %s or %s", xray.Quote(c.Collector), strings.Join(choices[:len(choices)-1], ", "), choices[len(choices)-1]))
	}
	for _, image := range [][2]string{{keyAppImage, c.AppImage}, {keyDaemonImage, c.DaemonImage}, {keyCollectorImage, c.CollectorImage}} {
		if image[1] != "" {
			check(image[0], pinnedImage(image[1]))
		}
	}
	if err := fargateSize(c.TaskCPU, c.TaskMemoryMiB); err != nil {
		check(keyTaskCPU+"/"+KeyTaskMemoryMiB, err)
	}
	if _, ok := retentionDays[c.LogRetentionDays]; !ok {
		check(keyLogRetentionDays, fmt.Errorf("%d days is not a CloudWatch Logs retention period; expected one of %s", c.LogRetentionDays, retentionChoices()))
	}
	check(keyInsightsNotifications, xray.CheckInsights(c.InsightsEnabled, c.InsightsNotificationsEnabled))
	if k.r.err == nil {
		// The chosen collector's ports (a collector of the three, its
		// images pinned: checked above).
		check(KeyAppPort, tracing.CheckAppPort(collector(&c.Service), float64(c.AppPort)))
	}
	if c.AppPort < minUnprivilegedPort {
		check(KeyAppPort, fmt.Errorf("%d: the backend runs as uid %s (distroless's nonroot), which may not bind a port below %d; expected %d..65535", c.AppPort, strings.Split(appUser, ":")[0], minUnprivilegedPort, minUnprivilegedPort))
	}
	switch {
	case c.VpcID == "":
	case !vpcIDPattern.MatchString(c.VpcID):
		check(keyVpcID, fmt.Errorf("%s is not a VPC id; expected vpc- and 8 or 17 hex digits, such as vpc-0123456789abcdef0", xray.Quote(c.VpcID)))
	case c.Account == "" || c.Region == "":
		check(keyVpcID, fmt.Errorf("looking up %s needs the stack's account and region; expected %s and %s too (or AWS credentials for the CLI)", c.VpcID, keyAccount, keyRegion))
	default:
		check(keyVpcID, lookupFailed(ctx, c.VpcID, c.Account, c.Region))
	}
	if c.CertificateArn != "" && !c.LoadBalancer {
		check(keyCertificateArn, fmt.Errorf("a certificate needs the load balancer; expected %s true or no certificate", keyLoadBalancer))
	}
	check(keyGroupName, xray.CheckGroupName(c.GroupName))
	if c.GroupFilterExpression != "" {
		check(keyGroupFilterExpression, xray.CheckFilterExpression(c.GroupFilterExpression))
	}
	if n := len([]rune(c.GroupName)); n > maxGroupNameLen {
		check(keyGroupName, fmt.Errorf("%s has %d characters; expected at most %d, so that %s fits X-Ray's 32", xray.Quote(c.GroupName), n, maxGroupNameLen, xray.Quote(c.GroupName+faultsSuffix)))
	}
	if c.MaxCount < c.DesiredCount {
		check(keyMaxCount, fmt.Errorf("%d is below %s %d; expected at least that", c.MaxCount, keyDesiredCount, c.DesiredCount))
	}
}

// loadRules reads the rule files, each made the stage's (loadRule), and
// refuses two rules of one name.
func (c *Config) loadRules(service string) error {
	names := map[string]string{} // rule name -> its file
	for i, file := range append([]string{c.SamplingRuleFile}, c.SamplingRuleFiles...) {
		key := KeySamplingRuleFile
		if i > 0 {
			key = keySamplingRuleFiles
		}
		rule, err := c.loadRule(key, file, service)
		if err != nil {
			return err
		}
		if other, dup := names[*rule.RuleName]; dup {
			return fmt.Errorf("context %s: %s: SamplingRule.RuleName: %q is also the rule of %s; expected a name of its own", key, file, *rule.RuleName, other)
		}
		names[*rule.RuleName] = file
		if i == 0 {
			c.SamplingRule = rule
		} else {
			c.SamplingRules = append(c.SamplingRules, rule)
		}
	}
	return nil
}

// defaultSamplingRuleQuota is X-Ray's default quota of custom sampling rules
// per region in an account ("Custom sampling rules per region", 25,
// adjustable; quota code L-8C0C998A; AWS General Reference, "AWS X-Ray
// endpoints and quotas").
const defaultSamplingRuleQuota = 25

// minUnprivilegedPort is the lowest port a process without
// CAP_NET_BIND_SERVICE may bind on Linux; the app container has no
// capabilities and runs as appUser.
const minUnprivilegedPort = 1024

// vpcIDPattern is an EC2 VPC id (the EC2 API reference, "Vpc": vpc- and 8
// hex digits, or 17 since 2018).
var vpcIDPattern = regexp.MustCompile(`^vpc-([0-9a-f]{8}|[0-9a-f]{17})$`)

// lookupFailed is the CDK CLI's error from looking the VPC up, which it
// keeps in the context under the lookup's key with $providerError: as one
// line, instead of the errors a synth over its dummy VPC would give.
func lookupFailed(ctx map[string]any, vpcID, account, region string) error {
	for k, v := range ctx {
		if !strings.HasPrefix(k, "vpc-provider:") || !strings.Contains(k, ":filter.vpc-id="+vpcID+":") || !strings.Contains(k, "account="+account+":") || !strings.Contains(k, ":region="+region+":") {
			continue
		}
		if m, ok := v.(map[string]any); ok && m["$providerError"] != nil {
			msg, _, _ := strings.Cut(fmt.Sprint(m["$providerError"]), "\n")
			return fmt.Errorf("looking up %s in account %s, region %s failed: %s; expected a VPC there, and AWS credentials of that account for the CDK CLI", vpcID, account, region, xray.Quote(msg))
		}
	}
	return nil
}

// CheckSingletons refuses stages that would each create what an account
// and region holds once: X-Ray's Transaction Search configuration
// (AWS::XRay::TransactionSearchConfig, one per account and region; the
// second create fails, and deleting either stack turns it off for both).
// A stage without an account or region may deploy anywhere, so it shares
// with every stage.
//
// It also holds the sampling rules of the stages that may share an account
// and region to X-Ray's quota of custom sampling rules per region.
func CheckSingletons(configs []*Config) error {
	for _, c := range configs {
		rules, sharing := 0, []string{}
		for _, other := range configs {
			if same(c.Account, other.Account) && same(c.Region, other.Region) {
				rules += 1 + len(other.SamplingRuleFiles)
				sharing = append(sharing, other.Stage.Name)
			}
		}
		if rules > c.SamplingRuleQuota {
			return fmt.Errorf("context %s, %s: stages %s, which may share an account and region (%s, %s), define %d sampling rules; expected at most %d, X-Ray's quota of custom sampling rules per region (L-8C0C998A; %s sets a raised one)",
				KeySamplingRuleFile, keySamplingRuleFiles, strings.Join(sharing, " and "), cmp.Or(c.Account, "any account"), cmp.Or(c.Region, "any region"), rules, c.SamplingRuleQuota, keySamplingRuleQuota)
		}
	}
	var on []*Config
	for _, c := range configs {
		if !c.TransactionSearch {
			continue
		}
		for _, other := range on {
			if same(c.Account, other.Account) && same(c.Region, other.Region) {
				return fmt.Errorf("context %s: true in stages %s and %s, which may share an account and region (%s, %s): Transaction Search is one setting per account and region (AWS::XRay::TransactionSearchConfig); expected it in one of them, with %s",
					keyTransactionSearch, other.Stage.Name, c.Stage.Name, cmp.Or(c.Account, "any account"), cmp.Or(c.Region, "any region"), ownKey("<stack>", keyTransactionSearch))
			}
		}
		on = append(on, c)
	}
	return nil
}

// same says whether two of a stage's values may name the same thing: equal,
// or one not set.
func same(a, b string) bool { return a == "" || b == "" || a == b }

// loadRule reads one rule file written for the service (named service,
// before the stage's suffix) and makes it the stage's. A rule that leaves out
// ServiceName, or names the service, follows the stage's service name; one
// that leaves out RuleName is named <service>-<file name>, cut to X-Ray's 32
// characters; a rule's name takes the stage's suffix.
func (c *Config) loadRule(key, file, service string) (*xray.SamplingRuleProps, error) {
	rule, err := xray.LoadSamplingRuleFile(file)
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", key, err)
	}
	switch {
	case rule.ServiceName == nil || *rule.ServiceName == service:
		rule.ServiceName = &c.ServiceName
	case !pattern.WildcardMatchCaseInsensitive(*rule.ServiceName, c.ServiceName):
		// A rule that cannot match the service's own segments never
		// samples them (the seed's group had this bug).
		return nil, fmt.Errorf("%s: SamplingRule.ServiceName: %q does not match the service name %q (context %s), so the rule would never sample its traces; expected a rule file (context %s) whose ServiceName matches it or is left out",
			file, *rule.ServiceName, c.ServiceName, KeyServiceName, key)
	}
	// The backend decides by the X-Ray SDK's centralized strategy in both
	// tracing modes, which skips a rule with attributes or a ResourceARN
	// other than * (aws-xray-sdk-go v2, strategy/sampling/centralized.go),
	// and asks with its segments' origin.
	origin := segmentOrigin(&c.Service)
	switch {
	case rule.ServiceType != nil && !pattern.WildcardMatchCaseInsensitive(*rule.ServiceType, origin):
		return nil, fmt.Errorf("context %s: %s: SamplingRule.ServiceType: %s does not match %s, the origin of the backend's segments with %s %s, so the rule would never sample its traces; expected * or a pattern that matches it", key, file, xray.Quote(*rule.ServiceType), origin, KeyCollector, c.Collector)
	case len(rule.Attributes) > 0:
		return nil, fmt.Errorf("context %s: %s: SamplingRule.Attributes: the backend's X-Ray SDK skips a rule with attributes, so the rule would never sample its traces; expected none", key, file)
	case rule.ResourceARN != nil && *rule.ResourceARN != "*":
		return nil, fmt.Errorf("context %s: %s: SamplingRule.ResourceARN: %s: the backend's X-Ray SDK skips a rule whose ResourceARN is not *, so the rule would never sample its traces; expected * or none", key, file, xray.Quote(*rule.ResourceARN))
	}
	suffix := c.Stage.NameSuffix
	if rule.RuleName == nil {
		name := []rune(service + "-" + strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)))
		rule.RuleName = jsii.String(string(name[:min(len(name), 32-len([]rune(suffix)))]) + suffix)
	} else if suffix != "" {
		named := *rule.RuleName + suffix
		if n := len([]rune(named)); n > 32 {
			return nil, fmt.Errorf("context %s: %s: SamplingRule.RuleName: %q has %d characters with stage %s's suffix %q; expected at most 32, so a name of at most %d", key, file, named, n, c.Stage.Name, suffix, 32-len([]rune(suffix)))
		}
		rule.RuleName = &named
	}
	return rule, nil
}

// postureChecks refuses what the stage's posture does not let its stack run
// with, whatever context says.
func postureChecks(c *Config, check func(string, error)) {
	p, stage := c.Stage.Posture, "stage "+c.Stage.Name
	if p.HTTPSOnly && !c.LoadBalancer {
		check(keyLoadBalancer, fmt.Errorf("false: %s serves through the load balancer and AWS WAF; expected true", stage))
	}
	if p.HTTPSOnly && c.CertificateArn == "" {
		check(keyCertificateArn, fmt.Errorf("not set: %s serves HTTPS only; expected an ACM certificate ARN", stage))
	}
	if c.LogRetentionDays < p.MinLogRetentionDays {
		check(keyLogRetentionDays, fmt.Errorf("%d days is less than %s keeps logs; expected %d or more", c.LogRetentionDays, stage, p.MinLogRetentionDays))
	}
	if c.NatGateways < p.MinNatGateways && c.VpcID == "" {
		check(keyNatGateways, fmt.Errorf("%d: %s survives the loss of an Availability Zone; expected %d", c.NatGateways, stage, p.MinNatGateways))
	}
	if p.Protected && c.EcsExec {
		// cdk-nag's NIST 800-53 pack refuses ECS Exec's grant, and a shell
		// into a protected stage's tasks is not its way in.
		check(keyEcsExec, fmt.Errorf("true: %s's tasks take no shell (cdk-nag's NIST 800-53 pack refuses ECS Exec's grant); expected false", stage))
	}
	if p.Protected && !c.DeletionProtection {
		check(keyDeletionProtection, fmt.Errorf("false: %s's load balancer is protected from deletion; expected true", stage))
	}
}

// fargateMemory is, for each task CPU Fargate takes (1024 units to a vCPU),
// the memory it allows: min..max MiB in steps of step (the Amazon ECS
// Developer Guide, "Task size"; 256 units take 512, 1024 or 2048 only).
// aws-cdk-lib's validator checks the same (E3047) but cannot name the
// context keys.
var fargateMemory = map[int]struct{ min, max, step int }{
	256: {512, 2048, 512}, 512: {1024, 4096, 1024}, 1024: {2048, 8192, 1024}, 2048: {4096, 16384, 1024},
	4096: {8192, 30720, 1024}, 8192: {16384, 61440, 4096}, 16384: {32768, 122880, 8192},
}

func fargateSize(cpu, memory int) error {
	m, ok := fargateMemory[cpu]
	if !ok {
		return fmt.Errorf("%d CPU units is not a Fargate task size; expected 256, 512, 1024, 2048, 4096, 8192 or 16384", cpu)
	}
	want := fmt.Sprintf("%d..%d MiB in steps of %d", m.min, m.max, m.step)
	if cpu == 256 {
		want = "512, 1024 or 2048 MiB"
	}
	if memory < m.min || memory > m.max || (memory-m.min)%m.step != 0 || memory == 1536 {
		return fmt.Errorf("%d MiB is not a Fargate memory size for %d CPU units; expected %s", memory, cpu, want)
	}
	return nil
}

// pinnedImage accepts an image reference that names one image for good: a
// tag other than "latest", or a digest (name@sha256:... or
// name:tag@sha256:...), so that no deploy changes what runs without a change
// to the template.
func pinnedImage(image string) error {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fmt.Errorf("%s is not an image reference (%v); expected a name with a tag or digest, such as public.ecr.aws/xray/aws-xray-daemon:3.6.6", xray.Quote(image), err)
	}
	_, digested := ref.(reference.Digested)
	tagged, isTagged := ref.(reference.Tagged)
	if !digested && (!isTagged || tagged.Tag() == "latest") {
		return fmt.Errorf("%s is not pinned; expected a tag other than latest, or a digest such as NAME@sha256:<64 hex digits>", xray.Quote(image))
	}
	return nil
}

// contextReader reads typed values from CDK context, keeping the first error
// and the keys it was asked for.
type contextReader struct {
	ctx map[string]any
	// stack is the stage's stack: its own key, cruddur:<stack>:<key>,
	// sets key for it alone, over cruddur:<key>.
	stack string
	known []string
	// own are the keys the stage's own key set, by key.
	own map[string]string
	// defaults are the defaults the keys were read with (what
	// docs/configuration.md's table is tested against).
	defaults map[string]any
	err      error
}

// note records key's default.
func (r *contextReader) note(key string, def any) {
	if r.defaults == nil {
		r.defaults = map[string]any{}
	}
	r.defaults[key] = def
}

// ownKey is a stage's own form of key: cruddur:<stack>:<name>.
func ownKey(stack, key string) string {
	return prefix + stack + ":" + strings.TrimPrefix(key, prefix)
}

func (r *contextReader) lookup(key string) (any, bool) {
	own := ownKey(r.stack, key)
	r.known = append(r.known, key, own)
	if v, ok := r.ctx[own]; ok && v != nil {
		if r.own == nil {
			r.own = map[string]string{}
		}
		r.own[key] = own
		return v, true
	}
	v, ok := r.ctx[key]
	return v, ok && v != nil
}

// name is the key a message names for key: the stage's own key where that
// set the value.
func (r *contextReader) name(key string) string {
	if own, ok := r.own[key]; ok {
		return own
	}
	return key
}

// set says whether context set key for this stage.
func (r *contextReader) set(key string) bool {
	_, own := r.own[key]
	_, all := r.ctx[key]
	return own || all
}

func (r *contextReader) fail(key string, v any, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("context %s: %s; expected %s", r.name(key), describe(v), want)
	}
}

// read reads key with def as its default: parse takes the value context
// holds, and says whether it is one of want.
func read[T any](r *contextReader, key string, def T, want string, parse func(any) (T, bool)) T {
	r.note(key, def)
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	t, ok := parse(v)
	if !ok {
		r.fail(key, v, want)
		return def
	}
	return t
}

func (r *contextReader) str(key, def string) string {
	return read(r, key, def, "a string", func(v any) (string, bool) { s, ok := v.(string); return s, ok })
}

func (r *contextReader) boolean(key string, def bool) bool {
	return read(r, key, def, "true or false", func(v any) (bool, bool) {
		switch b := v.(type) {
		case bool:
			return b, true
		case string: // -c key=value always gives a string
			return b == "true", b == "true" || b == "false"
		}
		return false, false
	})
}

// list reads a list of strings: a JSON list in cdk.json, or a
// comma-separated string from `-c key=a,b` ("" is the empty list).
func (r *contextReader) list(key string, def []string) []string {
	return read(r, key, def, "a list of file names, or one string of them separated by commas", func(v any) ([]string, bool) {
		switch x := v.(type) {
		case string:
			if x == "" {
				return nil, true
			}
			return strings.Split(x, ","), true
		case []any:
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, false
				}
				out[i] = s
			}
			return out, true
		}
		return nil, false
	})
}

// number reads a number in min..max: a JSON number in cdk.json, or a
// string from `-c key=value`.
func (r *contextReader) number(key string, def, min, max float64) float64 {
	return read(r, key, def, fmt.Sprintf("a number in %g..%g", min, max), func(v any) (float64, bool) {
		n, err := float64(0), error(nil)
		switch x := v.(type) {
		case float64:
			n = x
		case string:
			n, err = strconv.ParseFloat(x, 64)
		default:
			return 0, false
		}
		return n, err == nil && n >= min && n <= max
	})
}

// integer reads a whole number in min..max, as number reads a number.
func (r *contextReader) integer(key string, def, min, max int) int {
	return read(r, key, def, fmt.Sprintf("a whole number in %d..%d", min, max), func(v any) (int, bool) {
		n, err := 0, error(nil)
		switch x := v.(type) {
		case float64:
			if n = int(x); float64(n) != x {
				return 0, false
			}
		case string:
			n, err = strconv.Atoi(x)
		default:
			return 0, false
		}
		return n, err == nil && n >= min && n <= max
	})
}

// unknownKeys refuses keys with this app's prefix that it does not read, and
// keys whose prefix is nearly this app's (another case, or a letter or two
// off: Cruddur:stage, crudur:desiredCount): most likely typos that would
// otherwise be ignored. Each is named with the key it most likely meant.
// maxTypo is how many edits away from a known key an unknown one is
// taken for a typo of it.
const maxTypo = 3

func (r *contextReader) unknownKeys() error {
	var unknown []string
	for k := range r.ctx {
		rest, ours := nearlyOurs(k)
		if !ours || slices.Contains(r.known, k) {
			continue
		}
		if stack, _, perStage := strings.Cut(rest, ":"); perStage && stack != r.stack {
			// Another stage's own key is its reader's to check; one for a
			// stack no stage deploys is nobody's.
			if _, _, err := stages.ByStackName(stack); err != nil {
				return fmt.Errorf("context %s: %w; a stage's own key is cruddur:<stack>:<key>", k, err)
			}
			continue
		}
		unknown = append(unknown, k)
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	known := slices.Sorted(slices.Values(r.known))
	rest, _ := nearlyOurs(unknown[0])
	typed := strings.ToLower(prefix + rest)
	meant, nearest := "", math.MaxInt
	for _, k := range known {
		if d := levenshtein.ComputeDistance(typed, strings.ToLower(k)); d < nearest {
			meant, nearest = k, d
		}
	}
	// A near miss (a typo, a letter's case) gets the key it missed, alone;
	// anything else the whole list.
	if nearest <= maxTypo {
		return fmt.Errorf("context %s: unknown key; did you mean %s? (docs/configuration.md lists every key)", strings.Join(unknown, ", "), meant)
	}
	// The list names each key once, as every stage reads it.
	known = slices.DeleteFunc(known, func(k string) bool { return strings.Count(k, ":") > 1 })
	return fmt.Errorf("context %s: unknown key; expected one of %s (or cruddur:<stack>:<key>, for one stage)", strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// nearlyOurs reports whether key's prefix, up to its first colon, is this
// app's or nearly (another case, or a letter or two off), and returns what
// follows the colon.
func nearlyOurs(key string) (rest string, ours bool) {
	p, rest, found := strings.Cut(key, ":")
	return rest, found && levenshtein.ComputeDistance(strings.ToLower(p+":"), prefix) <= 2
}

// describe renders a context value as the user wrote it.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return xray.Quote(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprintf("%v (a %T)", v, v)
}

// Package standin stands in, on loopback, for what surrounds the backend in
// its task: it reads the app container and the X-Ray sampling rules from one
// of the stack's synthesized templates, and serves rules as the X-Ray
// daemon's sampling proxy does. The backend's tests and its load bench share
// it, so both see the task as the template declares it.
package standin

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/pattern"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
)

// maxTemplateBytes bounds what ReadTemplate reads; the goldens are under 200 KiB.
const maxTemplateBytes = 16 << 20

// Task is what a template says of the backend's task: of its first
// service's, where the stack has more than one (the task at its root).
type Task struct {
	// Env is the app container's environment (its values are plain
	// strings in every stack this project synthesizes).
	Env map[string]string
	// Sidecars are the names of the containers beside the app.
	Sidecars []string
	// Port is the app container's first mapped port.
	Port int
	// Rules are the template's sampling rules for the task's service (by
	// AWS_XRAY_TRACING_NAME; the others would never match it), by priority.
	Rules []*sampling.SamplingRule
	// StopTimeout is how long ECS waits, after SIGTERM, before it kills the
	// app container: its StopTimeout, or ECS's default of 30 s.
	StopTimeout time.Duration
}

// ReadTemplate reads the task from a synthesized template: an error names
// the file when it cannot be read or has no task definition with a container
// named "app", or two at the depth of the shallowest (by aws:cdk:path).
func ReadTemplate(path string) (Task, error) {
	f, err := os.Open(path)
	if err != nil {
		return Task{}, err
	}
	defer f.Close()
	var doc struct {
		Resources map[string]struct {
			Type     string
			Metadata struct {
				Path string `json:"aws:cdk:path"`
			}
			Properties struct {
				ContainerDefinitions []containerDefinition
				SamplingRule         *sampling.SamplingRule
			}
		}
	}
	if err := json.NewDecoder(io.LimitReader(f, maxTemplateBytes)).Decode(&doc); err != nil {
		return Task{}, fmt.Errorf("%s: %w", path, err)
	}
	var task Task
	depth := 0 // the chosen task's, in its aws:cdk:path
	var all []*sampling.SamplingRule
	for _, r := range doc.Resources {
		switch r.Type {
		case "AWS::ECS::TaskDefinition":
			candidate, ok := appTask(r.Properties.ContainerDefinitions)
			d := strings.Count(r.Metadata.Path, "/")
			switch {
			case !ok:
			case task.Env == nil || d < depth:
				task, depth = candidate, d
			case d == depth:
				return Task{}, fmt.Errorf("%s: two tasks with an app container at the stack's root; expected one", path)
			}
		case "AWS::XRay::SamplingRule":
			if r.Properties.SamplingRule != nil {
				all = append(all, r.Properties.SamplingRule)
			}
		}
	}
	if task.Env == nil {
		return Task{}, fmt.Errorf("%s: no task definition with an app container", path)
	}
	for _, r := range all {
		if name := task.Env["AWS_XRAY_TRACING_NAME"]; name == "" || pattern.WildcardMatchCaseInsensitive(value(r.ServiceName), name) {
			task.Rules = append(task.Rules, r)
		}
	}
	slices.SortFunc(task.Rules, func(a, b *sampling.SamplingRule) int { return cmp.Compare(value(a.Priority), value(b.Priority)) })
	return task, nil
}

// containerDefinition is what ReadTemplate reads of a container.
type containerDefinition struct {
	Name        string
	Environment []struct {
		Name  string
		Value any
	}
	PortMappings []struct{ ContainerPort int }
	StopTimeout  *int
}

// appTask is a task of these containers, if one of them is named "app".
func appTask(containers []containerDefinition) (task Task, ok bool) {
	for _, c := range containers {
		if c.Name != "app" {
			task.Sidecars = append(task.Sidecars, c.Name)
			continue
		}
		ok, task.Env = true, map[string]string{}
		for _, e := range c.Environment {
			task.Env[e.Name], _ = e.Value.(string)
		}
		if len(c.PortMappings) > 0 {
			task.Port = c.PortMappings[0].ContainerPort
		}
		task.StopTimeout = 30 * time.Second // ECS's default
		if c.StopTimeout != nil {
			task.StopTimeout = time.Duration(*c.StopTimeout) * time.Second
		}
	}
	return task, ok
}

func value[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// DefaultRule is X-Ray's own Default rule, which the service returns after
// an account's rules: 1 a second, then 5%.
func DefaultRule() *sampling.SamplingRule {
	star, name := "*", "Default"
	rate, one, last, version := 0.05, int64(1), int64(10000), int64(1)
	return &sampling.SamplingRule{RuleName: &name, Priority: &last, FixedRate: &rate, ReservoirSize: &one,
		ServiceName: &star, ServiceType: &star, Host: &star, HTTPMethod: &star, URLPath: &star, ResourceARN: &star, Version: &version}
}

// SamplingProxy serves rules as the daemon's sampling proxy does: all of
// them to GetSamplingRules, and each rule's own rate and reservoir as its
// target to SamplingTargets. It gives each rule an ARN.
func SamplingProxy(rules []*sampling.SamplingRule) http.Handler {
	byName := map[string]*sampling.SamplingRule{}
	var records []map[string]any
	for _, r := range rules {
		byName[value(r.RuleName)] = r
		arn := "arn:aws:xray:us-east-1:111122223333:sampling-rule/" + value(r.RuleName)
		r.RuleARN = &arn
		records = append(records, map[string]any{"SamplingRule": r})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /GetSamplingRules", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"SamplingRuleRecords": records})
	})
	mux.HandleFunc("POST /SamplingTargets", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SamplingStatisticsDocuments []struct{ RuleName string } }
		json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in)
		var docs []map[string]any
		for _, s := range in.SamplingStatisticsDocuments {
			if rule := byName[s.RuleName]; rule != nil {
				docs = append(docs, map[string]any{"RuleName": s.RuleName, "FixedRate": value(rule.FixedRate),
					"ReservoirQuota": value(rule.ReservoirSize), "ReservoirQuotaTTL": float64(time.Now().Add(time.Minute).Unix()), "Interval": 10})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"SamplingTargetDocuments": docs})
	})
	return mux
}

// Daemon stands in for the X-Ray daemon's UDP listener on addr (host:port;
// port 0 picks one): until the returned connection is closed, it calls each,
// from one goroutine, with the segment document of every datagram, the
// part after the SDK's header line.
func Daemon(addr string, each func(doc []byte)) (net.PacketConn, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	// Bursts of segments under load fit in the socket's buffer.
	conn.(*net.UDPConn).SetReadBuffer(8 << 20)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			_, doc, _ := bytes.Cut(buf[:n], []byte("\n"))
			each(doc)
		}
	}()
	return conn, nil
}

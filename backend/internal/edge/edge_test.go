package edge

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/xray"
)

var traceIDPattern = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)

func TestParseTraceHeader(t *testing.T) {
	cases := map[string]bool{
		"Root=1-5759e988-bd862e3fe1be46a994272793":                                                   true,
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1":                 true,
		"Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?": false, // Self too short
		"Self=1-67891234-123456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793":          true,
		"Sampled=1": false, // no Root
		"Root=1-5759e988-bd862e3fe1be46a99427279Z":                                    false,
		"Root=junk;Sampled=1":                                                         false,
		"Root=1-5759e988-bd862e3fe1be46a994272793;X=1":                                false,
		"Root=1-5759e988-bd862e3fe1be46a994272793" + strings.Repeat(";Sampled=1", 30): false, // over 256 bytes, every field well-formed
	}
	for in, want := range cases {
		if _, ok := ParseTraceHeader(in); ok != want {
			t.Errorf("ParseTraceHeader(%q) ok = %v, want %v", in, ok, want)
		}
	}
}

func TestNewTraceID(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := NewTraceID()
		if !traceIDPattern.MatchString(id) || seen[id] {
			t.Fatalf("trace id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
	if start := NewTraceID()[2:10]; start < fmt.Sprintf("%08x", time.Now().Unix()-1) {
		t.Errorf("trace id starts %s: not now", start)
	}
}

func BenchmarkNewTraceID(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			NewTraceID()
		}
	})
	b.Run("xray.NewTraceID", func(b *testing.B) {
		for b.Loop() {
			xray.NewTraceID()
		}
	})
}

// FuzzParseTraceHeader: whatever a caller sends, the parser never panics,
// and what it accepts is a header of at most 256 bytes whose Root is in
// X-Ray's form and appears in it. The seeds are TestParseTraceHeader's cases.
func FuzzParseTraceHeader(f *testing.F) {
	for _, seed := range []string{
		"Root=1-5759e988-bd862e3fe1be46a994272793",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"Self=1-67891234-123456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793",
		"Sampled=1", "Root=junk;Sampled=1", "Root=1-5759e988-bd862e3fe1be46a994272793;X=1", "", ";;", "Root=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		root, ok := ParseTraceHeader(v)
		if !ok {
			return
		}
		if len(v) > maxTraceHeaderBytes || !traceHeaderFields["Root"].MatchString(root) || !strings.Contains(v, root) {
			t.Errorf("%q accepted with root %q", v, root)
		}
	})
}

// TestTheClientIsWhatTheTrustedProxiesSaw: with n trusted proxies, the
// client is the n-th X-Forwarded-For entry from the right, over every value
// of the header; none without a trusted proxy, with too few entries, or
// with an entry that is no address.
func TestTheClientIsWhatTheTrustedProxiesSaw(t *testing.T) {
	for _, tc := range []struct {
		values  []string
		proxies int
		want    string
	}{
		{[]string{"6.6.6.6"}, 0, ""},
		{[]string{"6.6.6.6, 203.0.113.7"}, 1, "203.0.113.7"},
		{[]string{"6.6.6.6", "203.0.113.7"}, 1, "203.0.113.7"},
		{[]string{"203.0.113.7, 10.0.0.2"}, 2, "203.0.113.7"},
		{[]string{"10.0.0.2"}, 2, ""},
		{[]string{"6.6.6.6, junk"}, 1, ""},
		{[]string{"6.6.6.6, 2001:db8::1"}, 1, "2001:db8::1"},
	} {
		if got := forwardedClient(tc.values, tc.proxies); got != tc.want {
			t.Errorf("forwardedClient(%q, %d) = %q, want %q", tc.values, tc.proxies, got, tc.want)
		}
	}
}

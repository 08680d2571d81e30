package tracing

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
	"github.com/cruddur/tracing/backend/internal/backendtest"
	"github.com/cruddur/tracing/backend/internal/standin"
)

// TestTheRelayReportsAProxyThatGivesNoRules: a sampling proxy that answers
// with an error status, what is not JSON, or no rules leaves the SDK without
// the account's rules, which it logs only at debug level, and so the
// backend tracing nothing. The relay logs each as a fault line and answers
// the SDK 502; rules pass as they came, with no line.
func TestTheRelayReportsAProxyThatGivesNoRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		proxy  http.Handler
		status int
		fault  string
	}{
		{"an error status", http.NotFoundHandler(), http.StatusBadGateway, "the sampling proxy answered /GetSamplingRules with 404 Not Found; the rules in use stay"},
		{"not JSON", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{{{ not json")) }),
			http.StatusBadGateway, "the sampling proxy's reply to /GetSamplingRules is not JSON; the rules in use stay"},
		{"no rules", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"SamplingRuleRecords": []}`)) }),
			http.StatusBadGateway, "the sampling proxy served no sampling rules; the rules in use stay"},
		{"rules", standin.SamplingProxy([]*sampling.SamplingRule{backendtest.Everything()}), http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := httptest.NewServer(tc.proxy)
			defer proxy.Close()
			var log bytes.Buffer
			faults := newFaultLog()
			faults.logger = slog.New(slog.NewJSONHandler(&log, nil))
			relay, err := samplingRelay(proxy.Listener.Addr().(*net.TCPAddr), faults)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post("http://"+relay.String()+"/GetSamplingRules", "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := lines(t, &log)
			switch {
			case resp.StatusCode != tc.status:
				t.Errorf("the SDK got %s; want %d", resp.Status, tc.status)
			case tc.fault == "" && len(got) != 0:
				t.Errorf("fault lines %+v; want none", got)
			case tc.fault != "" && (len(got) != 1 || got[0].Msg != tc.fault):
				t.Errorf("fault lines %+v; want one saying %q", got, tc.fault)
			}
		})
	}
}

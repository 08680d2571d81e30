package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAmbiguousFramingIsRefused: over a raw connection to the server as main
// runs it, a request with both Content-Length and Transfer-Encoding gets 400
// and its connection is closed; requests framed by one of them, pipelined on
// one connection, are served, and so is a chunked body that looks like
// headers.
func TestAmbiguousFramingIsRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveOn(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %d", r.URL.Path, len(body))
		}))
	}()
	t.Cleanup(func() { cancel(); <-done })

	exchange := func(raw string, n int) (statuses []string, closed bool) {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		for range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			body, _ := io.ReadAll(resp.Body)
			statuses = append(statuses, fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body))))
		}
		_, err = br.ReadByte()
		return statuses, err == io.EOF
	}

	ambiguous := "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	after := "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
	got, closed := exchange(ambiguous+after, 2)
	if len(got) != 1 || !strings.HasPrefix(got[0], "400 ") || !closed {
		t.Errorf("both headers: %v, closed %v; want one 400 and the connection closed", got, closed)
	}
	good := "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"1b\r\nContent-Length: 1\r\nX: y\r\n\r\n\r\n0\r\n\r\n" +
		"GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	got, _ = exchange(good, 3)
	if want := "200 /c 5,200 /d 27,200 /e 0"; strings.Join(got, ",") != want {
		t.Errorf("pipelined, each framed once: %v; want %s", got, want)
	}
}

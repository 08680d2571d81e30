package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Go's server, given a request with both Content-Length and
// Transfer-Encoding, drops the Content-Length header and reads the body as
// chunked, so no handler can see that the request had both. RFC 9112
// (section 6.3) lets a server reject such a request and requires it to close
// the connection: behind a load balancer that framed it by the other header,
// it is how requests are smuggled. framingListener's connections follow the
// framing of each request as Go reads it and note, per request in order,
// whether its header block had both; refuseAmbiguousFraming answers those
// with 400 and closes the connection.

type framingKey struct{}

// framingListener wraps each accepted connection in a framingConn.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

// withFraming puts the connection's framingConn into its context
// (http.Server.ConnContext).
func withFraming(ctx context.Context, c net.Conn) context.Context {
	if f, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, f)
	}
	return ctx
}

// framingConn follows HTTP/1.1 request framing over the bytes read: header
// blocks, then Content-Length bytes or chunks.
type framingConn struct {
	net.Conn
	mu        sync.Mutex
	ambiguous []bool // per header block read, in order: both headers?
	line      []byte // the header or chunk-size line being read
	state     int
	remaining int64 // body or chunk bytes still to skip
	cl, te    bool  // what the header block being read has
	chunked   bool
	lost      bool // framing no longer followed: stop
}

const (
	inHeaders = iota
	inBody
	inChunkSize
	inChunkData
	inChunkCRLF
	inTrailers
)

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.follow(p[:n])
	c.mu.Unlock()
	return n, err
}

// next reports whether the next request's header block had both headers.
func (c *framingConn) next() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ambiguous) == 0 {
		return false
	}
	b := c.ambiguous[0]
	c.ambiguous = c.ambiguous[1:]
	return b
}

// maxFramingLine bounds a line kept while following: Go's own limits
// (MaxHeaderBytes) refuse longer ones before they matter here.
const maxFramingLine = 64 << 10

func (c *framingConn) follow(b []byte) {
	for len(b) > 0 && !c.lost {
		switch c.state {
		case inBody, inChunkData:
			skip := min(int64(len(b)), c.remaining)
			b, c.remaining = b[skip:], c.remaining-skip
			if c.remaining == 0 {
				if c.state == inBody {
					c.state = inHeaders
				} else {
					c.state = inChunkCRLF
				}
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			c.line = append(c.line, b...)
			if len(c.line) > maxFramingLine {
				c.lost = true
			}
			return
		}
		line := strings.TrimRight(string(append(c.line, b[:i]...)), "\r")
		c.line, b = c.line[:0], b[i+1:]
		c.endLine(line)
	}
}

func (c *framingConn) endLine(line string) {
	switch c.state {
	case inHeaders:
		if line != "" {
			name, value, _ := strings.Cut(line, ":")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "content-length":
				c.cl = true
				c.remaining, _ = strconv.ParseInt(strings.TrimSpace(value), 10, 64)
			case "transfer-encoding":
				c.te = true
				c.chunked = strings.EqualFold(strings.TrimSpace(value), "chunked")
			}
			return
		}
		c.ambiguous = append(c.ambiguous, c.cl && c.te)
		switch {
		case c.chunked:
			c.state = inChunkSize
		case c.te:
			c.lost = true // a coding Go refuses: the connection ends there
		case c.remaining > 0:
			c.state = inBody
		}
		c.cl, c.te, c.chunked = false, false, false
	case inChunkSize:
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		switch {
		case err != nil:
			c.lost = true
		case n == 0:
			c.state = inTrailers
		default:
			c.state, c.remaining = inChunkData, n
		}
	case inChunkCRLF:
		c.state = inChunkSize
	case inTrailers:
		if line == "" {
			c.state = inHeaders
		}
	}
}

// refuseAmbiguousFraming answers a request that had both Content-Length and
// Transfer-Encoding with 400 and closes its connection.
func refuseAmbiguousFraming(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, ok := r.Context().Value(framingKey{}).(*framingConn); ok && f.next() {
			w.Header().Set("Connection", "close")
			http.Error(w, "a request may carry Content-Length or Transfer-Encoding, not both", http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

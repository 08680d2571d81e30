package tracing

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
)

// faultLog writes a fault (a daemon or collector that cannot be reached, a
// failed export) at most once per cause every interval, and says in the next
// line for that cause how many it held back. Under load, a collector that is
// down otherwise writes a line for every other sampled request. A cause is
// the message with its numbers (ports, counts) taken out; at most maxCauses
// are told apart.
type faultLog struct {
	every  time.Duration
	now    func() time.Time
	mu     sync.Mutex
	causes map[string]*faultCause
	// logger writes the lines; nil is the default logger at the time.
	logger *slog.Logger
}

type faultCause struct {
	last time.Time
	held int
}

const (
	faultInterval = 10 * time.Second
	maxCauses     = 64
)

func newFaultLog() *faultLog {
	return &faultLog{every: faultInterval, now: time.Now, causes: map[string]*faultCause{}}
}

// log writes msg at level unless a line for the same cause went out less
// than every ago.
func (f *faultLog) log(level slog.Level, msg string, attrs ...any) {
	key := strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return '#'
		}
		return r
	}, msg)
	f.mu.Lock()
	c, seen := f.causes[key]
	if !seen {
		if len(f.causes) >= maxCauses {
			key = "(other causes)"
			c = f.causes[key]
		}
		if c == nil {
			c = &faultCause{}
			f.causes[key] = c
		}
	}
	now := f.now()
	if !c.last.IsZero() && now.Sub(c.last) < f.every {
		c.held++
		f.mu.Unlock()
		return
	}
	held := c.held
	c.last, c.held = now, 0
	f.mu.Unlock()
	if held > 0 {
		// Lines of this cause not written since the last one.
		attrs = append(attrs, "held_back", held)
	}
	logger := f.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Log(context.Background(), level, msg, attrs...)
}

// Package xray defines the AWS X-Ray resources that Cruddur's tracing needs:
// a Group that collects the service's traces, a SamplingRule that decides how
// many requests are traced, and a loader for the sampling-rule file that the
// X-Ray CLI takes (`aws xray create-sampling-rule --cli-input-json`), so that
// the file users already keep stays the source of truth.
package xray

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultServiceName is the name the Cruddur backend gives its segments, and
// so the name the group filters on and the sampling rule matches.
const DefaultServiceName = "Cruddur"

// maxServiceNameLen is the sampling rule's ServiceName limit; it is stricter
// than the segment name's (200), and one name must fit both.
const maxServiceNameLen = 64

// ValidateServiceName reports whether name can be used at once as a segment
// name, a sampling rule's ServiceName and the argument of the filter
// expression service("..."). X-Ray allows Unicode letters, numbers, white
// space and _ . : / % & # = + \ - @ in segment names; the backslash is refused
// here too, because inside a filter expression's string it escapes the next
// character.
func ValidateServiceName(name string) error {
	n := utf8.RuneCountInString(name)
	if n == 0 || n > maxServiceNameLen {
		return fmt.Errorf("%s has %d characters; expected 1..%d", strconv.Quote(name), n, maxServiceNameLen)
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("%s starts or ends with white space; expected a name without it", strconv.Quote(name))
	}
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsNumber(r) || r == ' ' || strings.ContainsRune("_.:/%&#=+-@", r) {
			continue
		}
		return fmt.Errorf("%s contains %q; expected letters, numbers, spaces and _ . : / %% & # = + - @", strconv.Quote(name), r)
	}
	return nil
}

// ServiceFilter returns the X-Ray filter expression that selects the traces
// of the named service. The name must pass ValidateServiceName.
func ServiceFilter(name string) string {
	return `service("` + name + `")`
}

// MatchesWildcard reports whether name matches an X-Ray sampling-rule pattern,
// in which * stands for any run of characters and ? for exactly one.
func MatchesWildcard(pattern, name string) bool {
	p, s := []rune(pattern), []rune(name)
	// Iterative glob match with backtracking to the last star: linear in
	// practice and never recursive.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

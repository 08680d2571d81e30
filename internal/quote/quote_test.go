package quote

import (
	"strings"
	"testing"
)

func TestValueQuotesAndCutsLongValues(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Cruddur", `"Cruddur"`},
		{"Cru\u202eddur", `"Cru\u202eddur"`},
		{"a\nb", `"a\nb"`},
		{strings.Repeat("é", Max), `"` + strings.Repeat("é", Max) + `"`},
		{strings.Repeat("a", Max+1), `"` + strings.Repeat("a", Max) + `"... (201 characters)`},
	} {
		if got := Value(tc.in); got != tc.want {
			t.Errorf("Value(%q) = %s; want %s", tc.in, got, tc.want)
		}
	}
}

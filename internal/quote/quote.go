// Package quote shows a value in an error message: Go-quoted, so control and
// invisible characters are visible, and cut, since a bad value can be very
// long. It depends on the standard library only, so every package of the
// module (stack/stages too) can use it.
package quote

import (
	"fmt"
	"strconv"
)

// Max is how many characters of a value a message shows.
const Max = 200

// Value quotes v, cut to Max characters with its length after the cut.
func Value(v string) string {
	if r := []rune(v); len(r) > Max {
		return strconv.Quote(string(r[:Max])) + fmt.Sprintf("... (%d characters)", len(r))
	}
	return strconv.Quote(v)
}

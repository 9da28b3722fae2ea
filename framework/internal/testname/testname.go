// Package testname derives resource names from a test's name, for the
// conformance suites whose subtests share one real server.
package testname

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// Prefix makes a name prefix of the test's name (lower case, every other
// character a '-') and the time, so subtests sharing a server, and runs
// sharing one, never collide.
func Prefix(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, t.Name())
	return name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
}

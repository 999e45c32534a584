package diagnose

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles expr on first use: compiled at package
// initialisation, every regexp costs every odin command its start-up time,
// including those that never match it.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

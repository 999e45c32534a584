// Package ports picks loopback ports for tests that bind them later (a
// release's stable listen port), outside the kernel's ephemeral range.
package ports

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Free returns a loopback port that was free a moment ago. It comes from
// below the ephemeral range (32768 and up on Linux): a port the kernel hands
// out for ":0" can be taken by any outgoing connection's source port before
// the test binds it, which busy suites (moto clients) made happen.
func Free(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no free loopback port between 20000 and 32000")
	return 0
}

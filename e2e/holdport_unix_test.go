//go:build unix

package e2e_test

import (
	"net/netip"
	"syscall"
	"testing"
)

// holdPort keeps addr (an IPv4 "host:port" whose listener just closed)
// bound, without listening, until the test ends: connections to it are
// still refused, as to a crashed process's port, but the kernel cannot
// hand the port to another test's listener while the crashed instance's
// registration is still in Consul (a call to its ghost would then reach a
// stranger). A failure to bind is logged, not fatal: the port is then
// merely not reserved, as before.
func holdPort(t *testing.T, addr string) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		t.Logf("holdPort %s: not an IPv4 address: %v", addr, err)
		return
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Logf("holdPort %s: socket: %v", addr, err)
		return
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		t.Logf("holdPort %s: SO_REUSEADDR: %v", addr, err)
		return
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		t.Logf("holdPort %s: bind: %v", addr, err)
	}
}

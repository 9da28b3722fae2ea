//go:build unix

package tcp

import "syscall"

// directWriter is the conn's one-step write to the socket (c.rawWrite),
// on systems with a non-blocking write(2).
func (c *conn) directWriter() func(fd uintptr) bool { return c.directWrite }

// directWrite is c.rawWrite: one write(2) of c.wbuf, retried on EINTR;
// EAGAIN (the socket's buffer is full) is not an error. It returns true so
// that RawConn.Write does not wait for the socket to become writable.
func (c *conn) directWrite(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), c.wbuf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.wn, c.werr = 0, nil
		case err != nil:
			c.wn, c.werr = 0, err
		default:
			c.wn, c.werr = n, nil
		}
		return true
	}
}

//go:build !unix

package tcp

// directWriter is nil where the socket has no non-blocking write(2) the
// transport can call (Windows): every write then goes through the
// connection's writer goroutine, the portable path TLS connections take
// everywhere.
func (c *conn) directWriter() func(fd uintptr) bool { return nil }

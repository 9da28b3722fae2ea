package tcp

import (
	"errors"
	"io"
	"net"
	"os"
)

// readBufSize is the size of a connection's read buffer: frames that fit
// are decoded from it; larger payloads are read into their own allocation.
const readBufSize = 64 << 10

// directPayload is the largest payload allocated at its full size when
// its header arrives; a larger one gets a buffer that grows (doubling) as
// its bytes arrive, so that what a header announces costs no memory
// before the peer sends it: a connection holds at most twice what it
// sent of a frame, plus directPayload.
const directPayload = 2 * readBufSize

// frame is one frame read from a connection. Unless owned, payload aliases
// the reader's buffer and is valid only until the next call to next.
type frame struct {
	frameHeader
	payload []byte
	owned   bool
}

// frameReader reads frames from r through its own buffer. Unlike bufio, a
// read that fails with a timeout loses nothing: when onTimeout returns nil
// the read resumes where it stopped, so deadlines can be used as timers.
type frameReader struct {
	r          io.Reader
	buf        []byte
	start, end int // buf[start:end] is read but not yet consumed
	maxPayload int
	total      uint64 // bytes read so far (the minimum read rate is checked on it)

	// onTimeout is called when a read times out; midFrame reports whether
	// part of a frame has been read. A nil result resumes the read. When
	// onTimeout is nil, a timeout is returned as an error.
	onTimeout func(midFrame bool) error
	// onRead is called after every read that returned data (may be nil).
	onRead func()
	// beforeRead is called before every read from r (may be nil): every
	// frame that was buffered has been returned by then; midFrame reports
	// whether part of the next frame has been read. An error stops next,
	// which returns it; when midFrame was false nothing is lost, and the
	// next call to next resumes.
	beforeRead func(midFrame bool) error
	// alloc allocates the payload of a frame too large for buf; n is at
	// most maxPayload (hook for the fuzz test).
	alloc func(n int) []byte
}

func newFrameReader(r io.Reader, buf []byte, maxPayload int) *frameReader {
	return &frameReader{r: r, buf: buf, maxPayload: maxPayload, alloc: func(n int) []byte { return make([]byte, n) }}
}

// next reads the next frame, validating its header before reading (or
// allocating for) its payload. It blocks until a whole frame has arrived or
// reading fails. A connection that ends between frames returns io.EOF; one
// that ends inside a frame returns io.ErrUnexpectedEOF.
func (fr *frameReader) next() (frame, error) {
	if err := fr.fill(frameHeaderLen); err != nil {
		return frame{}, err
	}
	h, err := parseFrameHeader(fr.buf[fr.start:fr.start+frameHeaderLen], fr.maxPayload)
	if err != nil {
		return frame{}, err
	}
	n := int(h.length)
	if frameHeaderLen+n <= len(fr.buf) {
		if err := fr.fill(frameHeaderLen + n); err != nil {
			return frame{}, err
		}
		p := fr.buf[fr.start+frameHeaderLen : fr.start+frameHeaderLen+n]
		fr.start += frameHeaderLen + n
		return frame{frameHeader: h, payload: p}, validateControl(h, p)
	}
	// A payload larger than the buffer: read it into its own allocation,
	// which becomes the message's memory. It grows with what arrives.
	fr.start += frameHeaderLen
	p := fr.alloc(min(n, max(directPayload, fr.end-fr.start)))
	got := copy(p, fr.buf[fr.start:fr.end])
	fr.start += got
	for got < n {
		if fr.beforeRead != nil {
			if err := fr.beforeRead(true); err != nil {
				return frame{}, err
			}
		}
		if got == len(p) {
			q := fr.alloc(min(n, 2*len(p)))
			copy(q, p[:got])
			p = q
		}
		m, err := fr.r.Read(p[got:])
		if m > 0 {
			got += m
			fr.total += uint64(m)
			if fr.onRead != nil {
				fr.onRead()
			}
		}
		if err != nil && got < n {
			if err = fr.readError(err, true); err != nil {
				return frame{}, err
			}
		}
	}
	return frame{frameHeader: h, payload: p, owned: true}, nil
}

// fill makes at least n bytes (n <= len(buf)) available at buf[start:].
func (fr *frameReader) fill(n int) error {
	if fr.end-fr.start >= n {
		return nil
	}
	if fr.start+n > len(fr.buf) {
		fr.end = copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.start = 0
	}
	for fr.end-fr.start < n {
		if fr.beforeRead != nil {
			if err := fr.beforeRead(fr.end > fr.start); err != nil {
				return err
			}
		}
		m, err := fr.r.Read(fr.buf[fr.end:])
		if m > 0 {
			fr.end += m
			fr.total += uint64(m)
			if fr.onRead != nil {
				fr.onRead()
			}
		}
		if err != nil && fr.end-fr.start < n {
			if err = fr.readError(err, fr.end > fr.start); err != nil {
				return err
			}
		}
	}
	return nil
}

// readError turns a read error into the error next returns, or nil when a
// timeout should be ignored and the read resumed.
func (fr *frameReader) readError(err error, midFrame bool) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && fr.onTimeout != nil {
		return fr.onTimeout(midFrame)
	}
	if err == io.EOF && midFrame {
		return io.ErrUnexpectedEOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && fr.onTimeout != nil {
		return fr.onTimeout(midFrame)
	}
	return err
}

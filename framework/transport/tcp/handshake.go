package tcp

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The preface each side sends first (see doc.go).
const (
	prefaceMagic    = "MSIM"
	prefaceVersion  = 1
	prefaceLen      = 16
	maxPeerMaxMsg   = 1<<32 - 1 - headerSlack
	maxPeerWindow   = 1 << 24
	minPeerMsgLimit = 1
)

func appendPreface(b []byte, maxMsg, window int) []byte {
	b = append(b, prefaceMagic...)
	b = append(b, prefaceVersion, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(maxMsg))
	return binary.BigEndian.AppendUint32(b, uint32(window))
}

// parsePreface validates a peer's preface and returns its message size
// limit and per-stream window.
func parsePreface(b []byte) (maxMsg, window int, err error) {
	if string(b[0:4]) != prefaceMagic {
		return 0, 0, protoErr("bad preface %q: not a microsim tcp peer", b)
	}
	if b[4] != prefaceVersion {
		return 0, 0, protoErr("preface version %d, want %d", b[4], prefaceVersion)
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return 0, 0, protoErr("preface with non-zero reserved bytes % x", b[5:8])
	}
	mm := binary.BigEndian.Uint32(b[8:12])
	w := binary.BigEndian.Uint32(b[12:16])
	if mm < minPeerMsgLimit || uint64(mm) > maxPeerMaxMsg {
		return 0, 0, protoErr("preface with a message size limit of %d", mm)
	}
	if w < 1 || w > maxPeerWindow {
		return 0, 0, protoErr("preface with a stream window of %d", w)
	}
	return int(mm), int(w), nil
}

// exchangePrefaces sends our preface and reads the peer's: the client
// writes first; the server answers only a valid preface. It blocks, bounded
// by the deadline the caller set on the connection.
func (c *conn) exchangePrefaces() error {
	out := appendPreface(make([]byte, 0, prefaceLen), c.o.maxMsg, c.o.window)
	if !c.server {
		if _, err := c.rw.Write(out); err != nil {
			return fmt.Errorf("write preface: %w", err)
		}
	}
	var in [prefaceLen]byte
	if n, err := io.ReadFull(c.rw, in[:]); err != nil {
		if !c.server && c.o.clientTLS == nil {
			if terr := tlsServerForPlaintext(in[:n]); terr != nil {
				return terr
			}
		}
		return fmt.Errorf("read preface: %w", err)
	}
	if c.server && c.o.serverTLS == nil {
		if err := tlsPeerOnPlaintext(c.raw, in[:], out); err != nil {
			return err
		}
	}
	mm, w, err := parsePreface(in[:])
	if err != nil {
		return err
	}
	if c.server {
		if _, err := c.rw.Write(out); err != nil {
			return fmt.Errorf("write preface: %w", err)
		}
	}
	c.peerMax, c.peerWindow, c.sendLimit = mm, w, min(mm, c.o.maxMsg)
	return nil
}

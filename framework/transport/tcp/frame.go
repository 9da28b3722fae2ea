package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/microsim/microsim/framework/transport"
)

// Frame types. See doc.go for the wire format.
const (
	frameOpen      byte = 0x0 // no payload: the client opens the stream
	frameData      byte = 0x1 // payload: encoded Message
	frameCloseSend byte = 0x2 // no payload: the sender sends no more DATA
	frameClose     byte = 0x3 // no payload: the sender closed its side entirely
	frameReset     byte = 0x4 // payload: 1-byte reset code
	frameWindow    byte = 0x5 // payload: 4-byte credit increment (messages)
	framePing      byte = 0x6 // stream 0, payload: 8 opaque bytes
	framePong      byte = 0x7 // stream 0, payload: the PING's 8 bytes
	frameGoAway    byte = 0x8 // stream id = last stream the sender will process; no payload
	frameTypeCount      = 9
)

// Reset codes carried by a RESET frame.
const (
	resetRefused byte = 1 // the stream was never accepted; nothing was processed
	resetAbort   byte = 2 // the stream was aborted part way
)

const (
	frameHeaderLen = 9 // [4-byte payload length][1-byte type][4-byte stream id]

	// headerSlack is how far a DATA frame's payload may exceed the message
	// size limit: the flags byte and the uvarint lengths of the headers.
	headerSlack = 64 << 10

	// dataHasHeader and dataHasBody are the flag bits of a DATA payload: they
	// keep a nil Header or Body nil on the receiving side.
	dataHasHeader byte = 1 << 0
	dataHasBody   byte = 1 << 1
)

var frameNames = [frameTypeCount]string{"OPEN", "DATA", "CLOSE_SEND", "CLOSE", "RESET", "WINDOW", "PING", "PONG", "GOAWAY"}

// errProtocol marks every violation of the wire format by the peer.
var errProtocol = errors.New("tcp: protocol error")

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// frameHeader is a decoded frame header.
type frameHeader struct {
	length uint32
	typ    byte
	id     uint32
}

// maxFramePayload is the largest frame payload accepted by a side whose
// message size limit is maxMsg.
func maxFramePayload(maxMsg int) int { return maxMsg + headerSlack }

// putFrameHeader writes a frame header into b[:frameHeaderLen].
func putFrameHeader(b []byte, length int, typ byte, id uint32) {
	binary.BigEndian.PutUint32(b[0:4], uint32(length))
	b[4] = typ
	binary.BigEndian.PutUint32(b[5:9], id)
}

// parseFrameHeader decodes and validates a frame header: the type is known,
// the payload length fits the type and maxPayload, the stream id fits the
// type. It never looks at the payload.
func parseFrameHeader(b []byte, maxPayload int) (frameHeader, error) {
	h := frameHeader{
		length: binary.BigEndian.Uint32(b[0:4]),
		typ:    b[4],
		id:     binary.BigEndian.Uint32(b[5:9]),
	}
	if h.typ >= frameTypeCount {
		return h, protoErr("unknown frame type 0x%02x", h.typ)
	}
	name := frameNames[h.typ]
	want := -1 // exact payload length, or -1 for "up to maxPayload"
	switch h.typ {
	case frameOpen, frameCloseSend, frameClose, frameGoAway:
		want = 0
	case frameReset:
		want = 1
	case frameWindow:
		want = 4
	case framePing, framePong:
		want = 8
	}
	if want >= 0 && h.length != uint32(want) {
		return h, protoErr("%s frame with a %d-byte payload, want %d", name, h.length, want)
	}
	if uint64(h.length) > uint64(maxPayload) {
		return h, protoErr("%s frame announces %d bytes, above the limit of %d", name, h.length, maxPayload)
	}
	switch h.typ {
	case framePing, framePong, frameGoAway:
		if h.typ != frameGoAway && h.id != 0 {
			return h, protoErr("%s frame on stream %d, want stream 0", name, h.id)
		}
	default:
		if h.id == 0 {
			return h, protoErr("%s frame on stream 0", name)
		}
	}
	return h, nil
}

// validateControl checks the payload of a control frame whose header passed
// parseFrameHeader.
func validateControl(h frameHeader, payload []byte) error {
	switch h.typ {
	case frameReset:
		if c := payload[0]; c != resetRefused && c != resetAbort {
			return protoErr("RESET frame with unknown code %d", c)
		}
	case frameWindow:
		if binary.BigEndian.Uint32(payload) == 0 {
			return protoErr("WINDOW frame with a zero increment")
		}
	}
	return nil
}

// encodedSize returns the DATA payload size of m and m.Size().
func encodedSize(m *transport.Message) (payload, size int) {
	payload = 1 + len(m.Body)
	size = len(m.Body)
	if m.Header != nil {
		payload += uvarintLen(uint64(len(m.Header)))
		for k, v := range m.Header {
			payload += uvarintLen(uint64(len(k))) + len(k) + uvarintLen(uint64(len(v))) + len(v)
			size += len(k) + len(v)
		}
	}
	return payload, size
}

// appendData appends the DATA payload of m to b: a flags byte, then if the
// header map is non-nil its entry count and each key and value prefixed by
// its uvarint length, then the body (the rest of the payload).
func appendData(b []byte, m *transport.Message) []byte {
	var flags byte
	if m.Header != nil {
		flags |= dataHasHeader
	}
	if m.Body != nil {
		flags |= dataHasBody
	}
	b = append(b, flags)
	if m.Header != nil {
		b = binary.AppendUvarint(b, uint64(len(m.Header)))
		for k, v := range m.Header {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return append(b, m.Body...)
}

// decodeData decodes a DATA payload into r, a cleared rmsg: a Message
// whose body aliases the payload, and whose header strings are strings of
// their own, from strs (so that a caller may keep them; only the map and
// the body are lent). When owned is true, payload itself becomes the
// buffer; otherwise it is copied into a buffer from pools (recorded in
// r.buf, for the end of the lease) or, when pools is nil or the payload
// is above the pooled sizes, into a new one of its exact size. The header
// map comes from pools (when not nil). A message whose Size exceeds maxMsg
// is a protocol error. After an error r holds nothing worth keeping.
func decodeData(r *rmsg, payload []byte, owned bool, maxMsg int, pools *msgPools, strs *strTable) error {
	if len(payload) == 0 {
		return protoErr("DATA frame with an empty payload")
	}
	flags := payload[0]
	if flags&^(dataHasHeader|dataHasBody) != 0 {
		return protoErr("DATA frame with unknown flags 0x%02x", flags)
	}
	if !owned {
		if b, ok := pools.getBuf(len(payload)); ok {
			copy(b, payload)
			payload, r.buf = b, b
		} else {
			payload = append(make([]byte, 0, len(payload)), payload...)
		}
	}
	m := &r.m
	p := payload[1:]
	size := 0
	if flags&dataHasHeader != 0 {
		n, w := binary.Uvarint(p)
		if w <= 0 || n > uint64(len(p)-w)/2 {
			return protoErr("DATA frame with a bad header count")
		}
		p = p[w:]
		m.Header = pools.getHeader(int(n))
		for i := uint64(0); i < n; i++ {
			var k, v []byte
			var err error
			if k, p, err = takeString(p); err != nil {
				return err
			}
			if v, p, err = takeString(p); err != nil {
				return err
			}
			ks := strs.get(k)
			if _, dup := m.Header[ks]; dup {
				return protoErr("DATA frame with a duplicate header %q", ks)
			}
			m.Header[ks] = strs.get(v)
			size += len(k) + len(v)
		}
	}
	if flags&dataHasBody != 0 {
		m.Body = p[:len(p):len(p)]
	} else if len(p) != 0 {
		return protoErr("DATA frame with %d body bytes but no body flag", len(p))
	}
	if size += len(p); size > maxMsg {
		return protoErr("DATA frame carries a message of %d bytes, above the limit of %d", size, maxMsg)
	}
	return nil
}

// strTable makes the header strings of received messages: each is a
// string of its own, which the message's reader may keep after the
// message's lease, and the strings a connection receives again and again
// (keys, service and endpoint names, content types) are made once. A
// connection's table is used by its reading goroutine only.
type strTable struct {
	m map[string]string
}

// Bounds of a strTable: a string longer than maxTableString is made anew
// each time, and a table that reaches maxTableStrings is emptied (strings
// seen once, such as timeouts, do not pile up; the steady ones come back).
const (
	maxTableString  = 64
	maxTableStrings = 256
)

// get returns b as a string: the table's when it has it. A nil table
// makes every string anew.
func (t *strTable) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if t == nil || len(b) > maxTableString {
		return string(b)
	}
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if t.m == nil {
		t.m = make(map[string]string)
	} else if len(t.m) >= maxTableStrings {
		clear(t.m)
	}
	t.m[s] = s
	return s
}

// takeString reads one uvarint-length-prefixed string from p; the bytes
// alias p.
func takeString(p []byte) ([]byte, []byte, error) {
	n, w := binary.Uvarint(p)
	if w <= 0 || n > uint64(len(p)-w) {
		return nil, nil, protoErr("DATA frame with a truncated header")
	}
	p = p[w:]
	return p[:n], p[n:], nil
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

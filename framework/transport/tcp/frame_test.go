package tcp

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"unsafe"

	"github.com/microsim/microsim/framework/transport"
)

// fuzzMaxMsg is small so that the fuzzer reaches the limits.
const fuzzMaxMsg = 1 << 12

// FuzzFrameDecoder feeds arbitrary bytes to the frame reader and the DATA
// decoder: they must never panic, never allocate more than the frame limit,
// fail only with a protocol error or a (clean or unclean) EOF, and every
// message they accept must re-encode to one that decodes equal. The input,
// read as a message, must also survive an encode/decode round trip.
// Seeds: testdata/fuzz/FuzzFrameDecoder.
func FuzzFrameDecoder(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		limit := maxFramePayload(fuzzMaxMsg)
		pools := &msgPools{}
		strs := &strTable{}
		var kept []keptString
		// A buffer smaller than the limit exercises both payload paths.
		fr := newFrameReader(bytes.NewReader(data), make([]byte, 256), limit)
		fr.alloc = func(n int) []byte {
			if n > limit {
				t.Fatalf("allocation of %d bytes, above the frame limit %d", n, limit)
			}
			return make([]byte, n)
		}
		for {
			f, err := fr.next()
			if err != nil {
				if !errors.Is(err, errProtocol) && err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("unexpected error kind: %v", err)
				}
				break
			}
			if len(f.payload) > limit {
				t.Fatalf("payload of %d bytes, above the limit %d", len(f.payload), limit)
			}
			if f.typ != frameData {
				continue
			}
			r := pools.getRmsg()
			if err := decodeData(r, f.payload, f.owned, fuzzMaxMsg, pools, strs); err != nil {
				if !errors.Is(err, errProtocol) {
					t.Fatalf("DATA decode failed with a non-protocol error: %v", err)
				}
				continue
			}
			roundTrip(t, &r.m)
			// The header strings are the reader's to keep: the next
			// frames reuse the message's memory, which must not change
			// them.
			for k, v := range r.m.Header {
				kept = append(kept, keptString{k, strings.Clone(k)}, keptString{v, strings.Clone(v)})
			}
			// Reuse its memory for the next frames: a decode that wrote
			// into memory another message still uses would break the
			// round trip of one of them.
			pools.recycle(r, false)
		}
		for _, k := range kept {
			if k.s != k.want {
				t.Fatalf("a header string changed after its message's lease: %q, want %q", k.s, k.want)
			}
		}
		roundTrip(t, messageFrom(data))
	})
}

// keptString is a header string kept after its message's lease, and a copy of it.
type keptString struct{ s, want string }

// roundTrip encodes m as a DATA frame, reads it back through a frameReader
// and checks it decodes equal, nil-ness of header and body included.
func roundTrip(t *testing.T, m *transport.Message) {
	t.Helper()
	plen, size := encodedSize(m)
	if size != m.Size() {
		t.Fatalf("encodedSize says size %d, Message.Size %d", size, m.Size())
	}
	b := make([]byte, frameHeaderLen, frameHeaderLen+plen)
	putFrameHeader(b, plen, frameData, 1)
	b = appendData(b, m)
	if len(b) != frameHeaderLen+plen {
		t.Fatalf("encoded %d bytes, encodedSize said %d", len(b)-frameHeaderLen, plen)
	}
	fr := newFrameReader(bytes.NewReader(b), make([]byte, 256), maxFramePayload(fuzzMaxMsg))
	f, err := fr.next()
	if size > fuzzMaxMsg {
		if err == nil {
			err = decodeData(&rmsg{}, f.payload, f.owned, fuzzMaxMsg, nil, nil)
		}
		if !errors.Is(err, errProtocol) {
			t.Fatalf("a message of %d bytes, above the limit, was accepted", size)
		}
		return
	}
	if err != nil {
		t.Fatalf("reading back an encoded frame: %v", err)
	}
	r := &rmsg{}
	err = decodeData(r, f.payload, f.owned, fuzzMaxMsg, nil, nil)
	got := &r.m
	if err != nil {
		t.Fatalf("decoding an encoded message: %v", err)
	}
	if (got.Header == nil) != (m.Header == nil) || !maps.Equal(got.Header, m.Header) ||
		(got.Body == nil) != (m.Body == nil) || !bytes.Equal(got.Body, m.Body) {
		t.Fatalf("round trip: sent %#v, got %#v", m, got)
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("after the only frame: %v, want io.EOF", err)
	}
}

// messageFrom reads arbitrary bytes as a message: the first byte chooses
// nil-ness and a header count, the following bytes are split into keys and
// values, the rest is the body.
func messageFrom(data []byte) *transport.Message {
	m := &transport.Message{}
	if len(data) == 0 {
		return m
	}
	ctl, data := data[0], data[1:]
	if ctl&1 != 0 {
		m.Header = map[string]string{}
		for i := 0; i < int(ctl>>2) && len(data) > 0; i++ {
			n := int(data[0]) % 8
			data = data[1:]
			n = min(n, len(data))
			k := string(data[:n])
			data = data[n:]
			n = min(n, len(data))
			m.Header[k] = string(data[:n])
			data = data[n:]
		}
	}
	if ctl&2 != 0 {
		m.Body = data
	}
	return m
}

// TestFrameHeaderLimits checks header validation outside the fuzzer.
func TestFrameHeaderLimits(t *testing.T) {
	for _, tc := range []struct {
		hdr  []byte
		want string
	}{
		{[]byte{0x80, 0, 0, 0, frameData, 0, 0, 0, 1}, "DATA frame announces 2147483648 bytes, above the limit of 69632"},
		{[]byte{0, 0, 0, 1, frameOpen, 0, 0, 0, 1}, "OPEN frame with a 1-byte payload, want 0"},
		{[]byte{0, 0, 0, 8, framePing, 0, 0, 0, 1}, "PING frame on stream 1, want stream 0"},
		{[]byte{0, 0, 0, 0, frameClose, 0, 0, 0, 0}, "CLOSE frame on stream 0"},
		{[]byte{0, 0, 0, 0, 0xff, 0, 0, 0, 1}, "unknown frame type 0xff"},
	} {
		_, err := parseFrameHeader(tc.hdr, maxFramePayload(4096))
		if err == nil || !errors.Is(err, errProtocol) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("header % x: got %v, want a protocol error containing %q", tc.hdr, err, tc.want)
		}
	}
}

// TestStrTable: a string the table has seen comes back as the same string
// (no allocation), a long one is made anew each time, and a full table
// starts over instead of growing.
func TestStrTable(t *testing.T) {
	var tab strTable
	a := tab.get([]byte("application/protobuf"))
	if b := tab.get([]byte("application/protobuf")); unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatal("a string seen before was made again")
	}
	if n := testing.AllocsPerRun(100, func() { tab.get([]byte("application/protobuf")) }); n != 0 {
		t.Fatalf("%v allocations for a string seen before", n)
	}
	long := bytes.Repeat([]byte("x"), maxTableString+1)
	first, second := tab.get(long), tab.get(long)
	if unsafe.StringData(first) == unsafe.StringData(second) {
		t.Fatal("a string longer than maxTableString was kept")
	}
	for i := range maxTableStrings + 10 {
		tab.get([]byte(strings.Repeat("k", 1+i%maxTableString) + string(rune('a'+i/maxTableString))))
	}
	if len(tab.m) > maxTableStrings {
		t.Fatalf("the table holds %d strings, more than %d", len(tab.m), maxTableStrings)
	}
	if got := tab.get([]byte("")); got != "" {
		t.Fatalf("empty bytes gave %q", got)
	}
}

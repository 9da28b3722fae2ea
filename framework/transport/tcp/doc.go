// Package tcp is the production transport.Transport over TCP, optionally
// with TLS. Many concurrent streams are multiplexed over one connection.
//
// New(opts...) returns a *Transport; its Dial returns a transport.Conn and
// its Listen a transport.Listener. Listen("127.0.0.1:0") picks a free port;
// Listener.Addr reports it. Transport.Close closes everything the transport
// made and waits for all of its goroutines.
//
// # Timeouts and closing
//
// The reader's read deadline doubles as a timer that wakes it every quarter
// of the smallest timeout; progress is sampled there, not per frame, so a
// timeout fires up to a quarter late. A write that makes no progress for the
// write timeout fails the connection (a peer that stopped reading). A
// connection with open streams, or a frame half read, that receives nothing
// for the read timeout fails; after half of it the connection sends a PING,
// which a live peer answers, so a quiet but healthy stream is not cut. A
// connection with no open stream for the idle timeout is closed: by a client
// directly, by a server with a GOAWAY first. A server expects the client's
// preface (and TLS handshake) within the handshake timeout (default 10 s, or
// the read timeout when smaller). A stream a client
// opened that no server accepted before the listener closed, or that found
// the accept backlog (4096 streams) full, is refused with a RESET. After
// Listener.Close each server connection sends GOAWAY and closes once its
// accepted streams have finished: it writes what is queued, closes its write
// side and waits (at most 2 s) for the client to close. A connection that
// breaks ends its streams with ErrReset; one closed by Conn.Close or
// Transport.Close ends them with ErrClosed.
//
// # Hostile peers
//
// What a peer can make a server hold is bounded. A frame that a peer has
// begun must keep arriving at the minimum read rate (WithMinReadRate,
// default 4 KiB/s) once it has been under way for half the read timeout,
// or the connection ends: a peer that announces a 4 MiB frame and
// trickles it holds about 200 KiB, for about half a read timeout. A
// listener serves at most WithMaxConns connections (default 10,000); one
// more is closed on accept. A connection carries at most WithMaxStreams
// open streams (default 1024); one more is refused with a RESET
// (ErrRefused at the client: nothing was processed). Refusals, failed
// handshakes and the connections cut are counted in Transport.Stats;
// refusals and failed handshakes are logged at Warn at most once a second
// per kind, with the number suppressed in between.
// A peer that sends frames the connection must answer (PING, OPEN over
// the stream limit) without reading the answers is cut once 4 MiB of them
// wait. Defaults: handshake 10 s, read 60 s, write 30 s, idle 90 s.
//
// # Goroutines
//
// Each connection runs two goroutines, owned by the Transport: a reader,
// which decodes frames and hands them to streams (it never blocks on a
// stream or on the server), and a writer. A listener adds one accept
// goroutine, which Listener.Close stops and waits for, and Serve a pool of
// goroutines that serve the streams not served inline (internal/workpool:
// a goroutine per stream only while none is idle). None is started per
// stream or per message otherwise, with one exception below.
//
// A call alone on its connection passes from no goroutine to another
// (roles.go): its sender writes its frames itself (one non-blocking write;
// what the socket does not take goes to the writer); on a client, its Recv
// reads the connection itself while nobody else does; on a server, the
// reading goroutine serves it inline, calling Serve's function itself.
// If such an inline call waits on the connection,
// or still runs a watchdog tick (1 ms) later, a new goroutine takes the
// connection's reading over (the exception), and the inline one exits
// when its call is done. One watchdog goroutine per Transport, running
// only while a connection needs it, does that, interrupts a reading Recv
// whose ctx ended, and hands a client connection nobody read for a tick
// back to its reader goroutine.
//
// Send encodes a message straight into the connection's pooled write buffer
// and returns; the writer takes everything queued and writes it with one
// (vectored) write. When it finds less than 8 KiB queued it first yields the
// processor once, so that callers about to queue frames share the write (at
// 64 concurrent calls one write carries about seven calls); yields that gain
// nothing are skipped with exponential backoff, so a lone caller pays
// nothing. NewStream with a first message queues the stream's OPEN with its
// first DATA frame, and SendClose a last DATA frame with the CLOSE behind
// it, in one step: the frames of a unary request and of its reply then
// leave in one write each without a yield. NotifyRecv's callback is called
// by the reading goroutine. The reader wakes a waiting Recv, and hands a
// newly opened stream to the server, only after it has handled every frame
// it has buffered, so a reply and the CLOSE behind it arrive together, and
// a server finds a request that came with its OPEN already queued.
//
// # Received messages
//
// A DATA frame's payload is decoded into a buffer and a header map from
// the Transport's pools, into a Message held inline by the stream for its
// first message (so a unary call allocates no Message) and pooled after.
// The package transport's lease applies: at the stream's next Recv or
// Close the map, the buffer and the Message go back to the pools (built
// with microsim_poison, they are overwritten instead). Header strings are
// made from a per-connection table of the strings it receives repeatedly
// (keys, service and endpoint names, content types: no allocation once
// seen) or allocated, never aliasing the buffer, so that a reader may keep
// them.
//
// # Wire format
//
// Each side first sends a 16-byte preface:
//
//	"MSIM" | version (1 byte, = 1) | 3 zero bytes |
//	max message size (uint32) | stream window (uint32)
//
// The client writes its preface first; the server checks it and answers
// with its own. A TLS mismatch is named on both sides (ErrTLSMismatch): a
// TLS listener answers a plaintext preface with a TLS alert, which the
// plaintext client recognises; a plaintext listener answers a TLS
// ClientHello with its preface, which the TLS client's handshake reports
// as a record that is not TLS. All integers are big endian. Then each side sends frames:
//
//	length (uint32) | type (1 byte) | stream id (uint32) | payload (length bytes)
//
// length counts the payload only. A receiver rejects a length above its max
// message size plus 64 KiB, or one that does not fit the frame type, before
// reading or allocating the payload. A payload of up to 128 KiB is
// allocated when its header arrives; a larger one grows (doubling) as its
// bytes arrive, so a connection holds at most twice what its peer sent of
// a frame, plus 128 KiB, whatever the header announced. Frame types:
//
//	0 OPEN        client to server, stream > 0, empty: opens the stream.
//	1 DATA        stream > 0. One message: a flags byte (bit 0: the header
//	              map is non-nil, bit 1: the body is non-nil); if bit 0, the
//	              header count and each key and value as a uvarint length and
//	              bytes; then the body, the rest of the payload.
//	2 CLOSE_SEND  stream > 0, empty. The sender sends no more DATA (half close).
//	3 CLOSE       stream > 0, empty. The sender closed its side: no more DATA,
//	              and it drops what it receives. The receiver's Recv returns
//	              io.EOF after the DATA before; its Send fails with ErrClosed.
//	4 RESET       stream > 0, 1 byte: 1 refused (no server accepted the
//	              stream: ErrRefused), 2 aborted (ErrReset).
//	5 WINDOW      stream > 0, uint32 > 0: the sender consumed that many
//	              messages of the stream; the receiver may send that many more.
//	6 PING        stream 0, 8 opaque bytes; answered by a PONG with the same bytes.
//	7 PONG        stream 0, 8 bytes.
//	8 GOAWAY      server to client, empty; the stream id field is the last
//	              stream the server processes. The client fails later streams
//	              with ErrRefused and opens no new one.
//
// Only clients open streams: NewStream gives the stream the next id (1, 2,
// 3, ... in the order OPEN frames are queued, hence written) and queues its
// OPEN, so the server has it before anything is sent on it. The server opens
// a stream on the OPEN of the next id. Frames for streams that have finished
// are dropped. Anything else — a bad preface, an unknown type, a length that
// does not fit the type or the limit, stream 0 where a stream is needed, an
// id that skips ahead or was never opened, a malformed DATA payload, a
// message over the limit, a window overflow, a truncated frame, GOAWAY from
// a client — closes that connection, logging (at Warn) an error that names
// the violation; the listener keeps serving other connections.
//
// # Flow control
//
// Per stream and counted in messages: each side announces in its preface how
// many received messages it buffers per stream (WithStreamWindow, default
// 32). A sender starts with that much credit, spends one per DATA frame and
// blocks in Send (until its ctx is done) at zero. The receiver returns credit
// in a WINDOW frame each time Recv has consumed half its window. A peer that
// sends beyond its credit breaks the protocol. So a stream whose receiver
// falls behind stalls only its own sender, the reader never blocks, and a
// connection buffers at most window messages per stream. Independently,
// Send blocks while more than 1 MiB of encoded frames waits for the writer.
// Each side also announces its max message size, and Send enforces the
// smaller of the two locally (ErrMessageTooLarge).
package tcp

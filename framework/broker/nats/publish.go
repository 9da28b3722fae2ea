package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/microsim/microsim/framework/broker"
)

// Publish sends m and blocks until the NATS server has processed it (a
// flush: a PING after the message, answered once the server has read
// everything before it), or until ctx is done (a ctx without a deadline
// gets the connection's Timeout). So a nil error means the server has the
// message; it says nothing of delivery, which NATS core does at most once.
// While the connection is down the message waits in nats.go's reconnect
// buffer and Publish waits for the reconnect (see the package doc); when
// ctx ends first, or the connection drops before the server answered,
// Publish fails with an error wrapping broker.ErrUnavailable, and the
// message may or may not reach the server later. m is copied.
func (b *Broker) Publish(ctx context.Context, topic string, m *broker.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validTopic(topic, false); err != nil {
		return err
	}
	if m == nil {
		m = &broker.Message{}
	}
	hdr, err := toHeader(m.Header)
	if err != nil {
		return err
	}
	if b.isClosed() {
		return broker.ErrClosed
	}
	if err := b.nc.PublishMsg(&nats.Msg{Subject: topic, Header: hdr, Data: m.Body}); err != nil {
		return b.mapErr("publish "+topic, err)
	}
	fctx, cancel := b.withDeadline(ctx)
	defer cancel()
	if err := b.nc.FlushWithContext(fctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("nats: publish %s: %w", topic, ctx.Err())
		}
		return b.mapErr("publish "+topic+": the server did not confirm it", err)
	}
	return nil
}

// validTopic checks a NATS subject: non-empty dot-separated tokens without
// blanks or control characters; wildcards only when subscribing, and ">"
// only last.
func validTopic(topic string, wildcards bool) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic", broker.ErrInvalidTopic)
	}
	if i := strings.IndexFunc(topic, blankOrControl); i >= 0 {
		return fmt.Errorf("%w: %q has a blank or control character", broker.ErrInvalidTopic, topic)
	}
	tokens := strings.Split(topic, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return fmt.Errorf("%w: %q has an empty token", broker.ErrInvalidTopic, topic)
		case (t == "*" || t == ">") && !wildcards:
			return fmt.Errorf("%w: %q: wildcards are for Subscribe", broker.ErrInvalidTopic, topic)
		case t == ">" && i != len(tokens)-1:
			return fmt.Errorf("%w: %q: '>' must be the last token", broker.ErrInvalidTopic, topic)
		}
	}
	return nil
}

func validQueue(q string) error {
	if strings.IndexFunc(q, blankOrControl) >= 0 {
		return fmt.Errorf("%w: queue %q has a blank or control character", broker.ErrInvalidTopic, q)
	}
	return nil
}

func blankOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// toHeader converts a message header to NATS headers, rejecting what the
// NATS header encoding would change or drop.
func toHeader(h map[string]string) (nats.Header, error) {
	if len(h) == 0 {
		return nil, nil
	}
	out := make(nats.Header, len(h))
	for k, v := range h {
		if k == "" || strings.IndexFunc(k, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
			return nil, fmt.Errorf("nats: header key %q is not an HTTP token", k)
		}
		if strings.ContainsAny(v, "\r\n") || strings.TrimLeft(v, " \t") != v || strings.TrimRight(v, " \t") != v {
			return nil, fmt.Errorf("nats: header %q: value %q has CR, LF or leading/trailing blanks", k, v)
		}
		out[k] = []string{v}
	}
	return out, nil
}

// isTokenChar reports whether r may appear in an HTTP header field name.
func isTokenChar(r rune) bool {
	if r >= 0x7f || r <= ' ' {
		return false
	}
	return !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

// fromMsg converts a received NATS message.
func fromMsg(msg *nats.Msg) *broker.Message {
	m := &broker.Message{}
	if len(msg.Data) > 0 {
		m.Body = msg.Data // nats.go copied it for this message
	}
	if len(msg.Header) > 0 {
		m.Header = make(map[string]string, len(msg.Header))
		for k, vs := range msg.Header {
			if len(vs) > 0 {
				m.Header[k] = vs[0]
			}
		}
	}
	return m
}

var errNilHandler = errors.New("nats: nil handler")

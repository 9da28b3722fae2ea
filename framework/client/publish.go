package client

import (
	"context"
	"fmt"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/metadata"
)

// Publish implements Client: msg is encoded with the publish content type
// (default: the client's) and sent, through the publish wrappers, with
// that type in the Micro-Content-Type header and ctx's metadata as headers.
func (c *rpcClient) Publish(ctx context.Context, topic string, msg any, opts ...PublishOption) error {
	if c.closed.Load() {
		return errors.Wrapf(errorID, errors.Unavailable, ErrClosed, "publish to %q", topic)
	}
	if c.opts.broker == nil {
		return errors.New(errorID, errors.NotImplemented, "publish to %q: client has no broker (use client.WithBroker)", topic)
	}
	po := PublishOptions{ContentType: c.opts.contentType}
	for _, o := range opts {
		o(&po)
	}
	cd, err := c.opts.codecs.Lookup(po.ContentType)
	if err != nil {
		return errors.Wrapf(errorID, errors.BadRequest, err, "publish to %q", topic)
	}
	body, err := cd.Marshal(msg)
	if err != nil {
		return errors.Wrapf(errorID, errors.BadRequest, err, "publish to %q: encode", topic)
	}
	h := make(map[string]string, 2)
	metadata.ToHeader(ctx, h)
	h[wire.ContentType] = cd.ContentType()
	if err := c.publish(ctx, topic, &broker.Message{Header: h, Body: body}); err != nil {
		return errors.Wrap(errorID, errors.Unavailable, fmt.Errorf("publish to %q: %w", topic, err))
	}
	return nil
}

// doPublish is the unwrapped publish: the broker's.
func (c *rpcClient) doPublish(ctx context.Context, topic string, m *broker.Message) error {
	return c.opts.broker.Publish(ctx, topic, m)
}

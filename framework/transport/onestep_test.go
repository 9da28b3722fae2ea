package transport_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transportmock"
)

// TestOneStepFallbacks: NewStreamSend and SendClose on a Conn and a Socket
// without the optional one-step interfaces take the two steps, in order,
// and stop after a failed first one (the generated mocks have only the
// Conn and Socket methods, and fail on any call not expected).
func TestOneStepFallbacks(t *testing.T) {
	ctx := context.Background()
	m := &transport.Message{Body: []byte("x")}
	boom := errors.New("boom")

	t.Run("NewStreamSend", func(t *testing.T) {
		ctrl := gomock.NewController(t)
		c, s := transportmock.NewMockConn(ctrl), transportmock.NewMockSocket(ctrl)
		gomock.InOrder(
			c.EXPECT().NewStream(ctx).Return(s, nil),
			s.EXPECT().Send(ctx, m).Return(boom),
		)
		got, err := transport.NewStreamSend(ctx, c, m)
		require.Same(t, s, got, "the stream opened is returned with Send's error")
		require.ErrorIs(t, err, boom)

		c.EXPECT().NewStream(ctx).Return(nil, transport.ErrRefused)
		got, err = transport.NewStreamSend(ctx, c, m)
		require.Nil(t, got, "no stream opened")
		require.ErrorIs(t, err, transport.ErrRefused)
	})

	t.Run("SendClose", func(t *testing.T) {
		ctrl := gomock.NewController(t)
		s := transportmock.NewMockSocket(ctrl)
		gomock.InOrder(
			s.EXPECT().Send(ctx, m).Return(nil),
			s.EXPECT().Close().Return(nil),
		)
		require.NoError(t, transport.SendClose(ctx, s, m))

		s.EXPECT().Send(ctx, m).Return(boom) // and no Close: the stream stays open
		require.ErrorIs(t, transport.SendClose(ctx, s, m), boom)
	})
}

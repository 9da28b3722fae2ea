package errors_test

import (
	"context"
	stderrors "errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/errors"
)

func TestCodeNamesRoundTrip(t *testing.T) {
	for c := errors.Unknown; c <= errors.ResourceExhausted; c++ {
		got, err := errors.ParseCode(c.String())
		require.NoError(t, err, c.String())
		assert.Equal(t, c, got)
	}
	// A code from a newer peer survives as its number.
	got, err := errors.ParseCode(errors.Code(99).String())
	require.NoError(t, err)
	assert.Equal(t, errors.Code(99), got)
	_, err = errors.ParseCode("no_such_code")
	assert.ErrorContains(t, err, `"no_such_code"`)
}

func TestRetryClass(t *testing.T) {
	want := map[errors.Code]errors.RetryClass{
		errors.Unavailable:      errors.RetrySafe,
		errors.DeadlineExceeded: errors.RetryIdempotent,
		errors.Interrupted:      errors.RetryIdempotent,
		errors.Internal:         errors.RetryNever,
		errors.NotFound:         errors.RetryNever,
		errors.BadRequest:       errors.RetryNever,
		errors.Canceled:         errors.RetryNever,
	}
	for c, rc := range want {
		assert.Equal(t, rc, c.Retry(), c.String())
	}
}

func TestWrapKeepsCauseLocally(t *testing.T) {
	e := errors.Wrapf("svc", errors.Unavailable, io.ErrUnexpectedEOF, "read %s", "reply")
	assert.Equal(t, "svc: unavailable: read reply: unexpected EOF", e.Error())
	assert.True(t, stderrors.Is(e, io.ErrUnexpectedEOF))
	assert.True(t, stderrors.Is(fmt.Errorf("outer: %w", e), &errors.Error{Code: errors.Unavailable}))
	assert.False(t, stderrors.Is(e, &errors.Error{Code: errors.Internal}))
	assert.False(t, stderrors.Is(e, &errors.Error{ID: "other", Code: errors.Unavailable}))
}

func TestFromError(t *testing.T) {
	assert.Nil(t, errors.FromError(nil))
	assert.Equal(t, errors.DeadlineExceeded, errors.CodeOf(fmt.Errorf("x: %w", context.DeadlineExceeded)))
	assert.Equal(t, errors.Canceled, errors.CodeOf(context.Canceled))
	assert.Equal(t, errors.Unknown, errors.CodeOf(io.EOF))
	inner := errors.NewNotFound("users", "user %d", 7)
	assert.Same(t, inner, errors.FromError(fmt.Errorf("wrapped: %w", inner)))
}

func TestHeaderRoundTrip(t *testing.T) {
	h := map[string]string{}
	assert.Nil(t, errors.FromHeader(h), "no error headers, no error")
	in := errors.New("greeter", errors.Conflict, "name %q taken: %v", "bob", io.EOF)
	errors.ToHeader(in, h)
	out := errors.FromHeader(h)
	require.NotNil(t, out)
	assert.Equal(t, in.ID, out.ID)
	assert.Equal(t, in.Code, out.Code)
	assert.Equal(t, in.Detail, out.Detail)
	assert.Len(t, h, 3)
}

func FuzzFromHeader(f *testing.F) {
	f.Add("svc", "unavailable", "detail")
	f.Add("", "42", "")
	f.Add("x", "not a code", "\x00\xff")
	f.Fuzz(func(t *testing.T, id, code, detail string) {
		h := map[string]string{errors.HeaderID: id, errors.HeaderCode: code, errors.HeaderDetail: detail}
		e := errors.FromHeader(h)
		require.NotNil(t, e)
		assert.Equal(t, id, e.ID)
		assert.Equal(t, detail, e.Detail)
		// Whatever was read survives a second trip unchanged.
		h2 := map[string]string{}
		errors.ToHeader(e, h2)
		assert.Equal(t, e, errors.FromHeader(h2))
	})
}

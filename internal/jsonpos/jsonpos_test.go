package jsonpos

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	require.NoError(t, Check([]byte(` {"a": [1, 2]} `)))
	require.NoError(t, Check([]byte(`"s"`)))
	for _, c := range []struct {
		in         string
		line, col  int
		msgContain string
	}{
		{`{"a": 1,}`, 1, 9, "invalid character '}'"},
		{"{\n  \"a\": tru\n}", 2, 11, "invalid character"},
		{`{"a": 1`, 1, 8, "unexpected end"},
		{``, 1, 1, "empty input"},
		{`{} {}`, 1, 4, "more than one JSON value"},
		{`{'a': 1}`, 1, 2, "invalid character '\\''"},
	} {
		err := Check([]byte(c.in))
		var e *Error
		require.True(t, errors.As(err, &e), "%q: %v", c.in, err)
		require.True(t, errors.Is(err, ErrInvalid))
		require.Equal(t, c.line, e.Line, "%q: %v", c.in, err)
		require.Equal(t, c.col, e.Column, "%q: %v", c.in, err)
		require.Contains(t, e.Error(), c.msgContain)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{`, `[1,2,`, "\xff", `{} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b)
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Line < 1 || e.Column < 1 || e.Offset > int64(len(b))) {
			t.Fatalf("%q: bad error %v", b, err)
		}
	})
}

package echo

import (
	"context"
	"time"

	"github.com/microsim/microsim/framework/errors"
)

// Request asks for Text back, after Sleep, or for an error of the code
// named by Fail (an errors.Code name such as "unavailable").
type Request struct {
	Text  string
	Sleep time.Duration
	Fail  string
}

// Reply carries the text back.
type Reply struct{ Text string }

// Echo is the handler; its endpoint is "Echo.Say".
type Echo struct{}

// Say replies with req.Text after req.Sleep (or fails as req.Fail asks).
// It blocks for the sleep, or until ctx ends.
func (Echo) Say(ctx context.Context, req *Request, rsp *Reply) error {
	if req.Sleep > 0 {
		select {
		case <-time.After(req.Sleep):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if req.Fail != "" {
		code, err := errors.ParseCode(req.Fail)
		if err != nil {
			return err
		}
		return errors.New("echo", code, "asked to fail")
	}
	rsp.Text = req.Text
	return nil
}

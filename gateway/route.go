package gateway

import (
	"context"
	"errors"
	"net/http"

	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/internal/resolve"
)

// resolve finds the endpoint c names among those the service registered.
func (g *Gateway) resolve(ctx context.Context, c *call) (*resolve.Target, *Problem) {
	t, err := resolve.Endpoint(ctx, g.reg, c.service, c.name())
	if err != nil {
		return nil, lookupProblem(c.service, err)
	}
	return t, nil
}

func (c *call) name() string {
	if c.handler == "" {
		return c.method
	}
	return c.handler + "." + c.method
}

// lookupProblem explains a failed lookup of service.
func lookupProblem(service string, err error) *Problem {
	var re *resolve.Error
	switch {
	case errors.As(err, &re):
		status, code := http.StatusNotFound, ferrors.NotFound
		if re.Kind == resolve.ErrAmbiguous {
			status, code = http.StatusBadRequest, ferrors.BadRequest
		}
		p := newProblem(status, code, "%v", re)
		p.Suggestions, p.Endpoints = re.Suggestions, re.Endpoints
		return p
	case errors.Is(err, context.DeadlineExceeded):
		return newProblem(http.StatusGatewayTimeout, ferrors.DeadlineExceeded, "looking up service %q: %v", service, err)
	}
	return newProblem(http.StatusServiceUnavailable, ferrors.Unavailable, "looking up service %q: %v", service, err)
}

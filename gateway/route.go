package gateway

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/suggest"
)

// maxSuggestions bounds the close names an error lists.
const maxSuggestions = 5

// target is a resolved call: the endpoint's name and, when the service
// registered it, its description.
type target struct {
	endpoint string
	desc     *registry.Endpoint
}

// resolve finds the endpoint c names among those the service registered.
func (g *Gateway) resolve(ctx context.Context, c *call) (*target, *Problem) {
	svcs, err := g.reg.GetService(ctx, c.service)
	if err != nil {
		return nil, g.lookupProblem(ctx, c.service, err)
	}
	eps := endpoints(svcs)
	if len(eps) == 0 { // a registrant that lists no endpoints: micro's naming
		h := c.handler
		if h == "" {
			h = c.service[strings.LastIndexAny(c.service, ".:")+1:]
		}
		return &target{endpoint: title(h) + "." + title(c.method)}, nil
	}
	var found []*registry.Endpoint
	for _, e := range eps {
		h, m, _ := strings.Cut(e.Name, ".")
		if strings.EqualFold(m, c.method) && (c.handler == "" || strings.EqualFold(h, c.handler)) {
			found = append(found, e)
		}
	}
	if len(found) > 1 { // several handlers serve the method: the one named like the service
		for _, e := range found {
			h, _, _ := strings.Cut(e.Name, ".")
			if strings.EqualFold(h, c.service) {
				found = []*registry.Endpoint{e}
				break
			}
		}
	}
	switch len(found) {
	case 1:
		return &target{endpoint: found[0].Name, desc: found[0]}, nil
	case 0:
		p := newProblem(http.StatusNotFound, ferrors.NotFound, "service %q has no endpoint %q", c.service, c.name())
		p.Endpoints = names(eps)
		return nil, p
	}
	p := newProblem(http.StatusBadRequest, ferrors.BadRequest,
		"service %q: several handlers serve %q; call /%s/{handler}/%s", c.service, c.method, c.service, c.method)
	p.Endpoints = names(found)
	return nil, p
}

func (c *call) name() string {
	if c.handler == "" {
		return c.method
	}
	return c.handler + "." + c.method
}

// lookupProblem explains a failed registry lookup of service.
func (g *Gateway) lookupProblem(ctx context.Context, service string, err error) *Problem {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		p := newProblem(http.StatusNotFound, ferrors.NotFound, "service %q is not registered", service)
		if all, lerr := g.reg.ListServices(ctx); lerr == nil {
			known := make([]string, 0, len(all))
			for _, s := range all {
				known = append(known, s.Name)
			}
			p.Suggestions = suggest.Closest(service, dedupe(known), maxSuggestions)
		}
		return p
	case errors.Is(err, context.DeadlineExceeded):
		return newProblem(http.StatusGatewayTimeout, ferrors.DeadlineExceeded, "looking up service %q: %v", service, err)
	}
	return newProblem(http.StatusServiceUnavailable, ferrors.Unavailable, "looking up service %q: %v", service, err)
}

// endpoints are the endpoints of every version, each name once.
func endpoints(svcs []*registry.Service) []*registry.Endpoint {
	seen := map[string]bool{}
	var out []*registry.Endpoint
	for _, s := range svcs {
		for _, e := range s.Endpoints {
			if e != nil && !seen[e.Name] {
				seen[e.Name] = true
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func names(eps []*registry.Endpoint) []string {
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = e.Name
	}
	return out
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// title upper-cases the first letter of an ASCII name.
func title(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

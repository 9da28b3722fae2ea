// Package resolve finds services and endpoints in a registry the way the
// toolkit's users name them (case-insensitively, by method alone), and
// says what exists when they are not there: the close service names, the
// service's endpoints.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/suggest"
)

// Sentinel errors, wrapped by *Error.
var (
	// ErrServiceNotFound: no node of the service is registered.
	ErrServiceNotFound = errors.New("service not found")
	// ErrEndpointNotFound: the service registered no such endpoint.
	ErrEndpointNotFound = errors.New("endpoint not found")
	// ErrAmbiguous: several handlers serve the method named.
	ErrAmbiguous = errors.New("ambiguous endpoint")
)

// maxSuggestions bounds the close names an error lists.
const maxSuggestions = 5

// Error says what was not found and what exists instead.
type Error struct {
	Kind    error // one of the sentinels
	Service string
	Name    string // the endpoint asked for
	// Suggestions are registered services close to Service.
	Suggestions []string
	// Endpoints are the service's endpoints (those that match, for ErrAmbiguous).
	Endpoints []string
}

func (e *Error) Error() string {
	switch e.Kind {
	case ErrServiceNotFound:
		if len(e.Suggestions) > 0 {
			return fmt.Sprintf("service %q is not registered; did you mean %s?", e.Service, strings.Join(e.Suggestions, ", "))
		}
		return fmt.Sprintf("service %q is not registered", e.Service)
	case ErrAmbiguous:
		return fmt.Sprintf("service %q: several handlers serve %q (%s); name one as Handler.Method",
			e.Service, e.Name, strings.Join(e.Endpoints, ", "))
	}
	return fmt.Sprintf("service %q has no endpoint %q; it serves %s", e.Service, e.Name, strings.Join(e.Endpoints, ", "))
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

// Target is a resolved endpoint: its name and, when the service registered
// it, its description.
type Target struct {
	Endpoint string
	Desc     *registry.Endpoint
}

// Lookup is the part of a registry that resolving reads; a
// registry.Registry is one, and so is a Cache.
type Lookup interface {
	GetService(ctx context.Context, name string) ([]*registry.Service, error)
	ListServices(ctx context.Context) ([]*registry.Service, error)
}

// Service returns the versions of the named service. When none is
// registered it returns an *Error listing close names; other registry
// errors are returned as they are (wrapping registry.ErrUnavailable for an
// unreachable registry).
func Service(ctx context.Context, reg Lookup, name string) ([]*registry.Service, error) {
	svcs, err := reg.GetService(ctx, name)
	if errors.Is(err, registry.ErrNotFound) || err == nil && len(svcs) == 0 {
		e := &Error{Kind: ErrServiceNotFound, Service: name}
		if all, lerr := reg.ListServices(ctx); lerr == nil {
			e.Suggestions = suggest.Closest(name, Names(all), maxSuggestions)
		}
		return nil, e
	}
	return svcs, err
}

// Names are the distinct names of svcs, sorted.
func Names(svcs []*registry.Service) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range svcs {
		if s != nil && !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Endpoint finds the endpoint of service that name designates: "Handler.Method"
// or "Method", case-insensitively. When several handlers serve a method
// named alone, the handler named like the service wins (so "hello" of
// service "greeter" is Greeter.Hello). A service that registered no
// endpoint list is called at "{Handler}.{Method}", the handler defaulting
// to the service's last name part, both capitalised.
func Endpoint(ctx context.Context, reg Lookup, service, name string) (*Target, error) {
	svcs, err := Service(ctx, reg, service)
	if err != nil {
		return nil, err
	}
	handler, method, dotted := strings.Cut(name, ".")
	if !dotted {
		handler, method = "", name
	}
	eps := Endpoints(svcs)
	if len(eps) == 0 {
		if handler == "" {
			handler = service[strings.LastIndexAny(service, ".:")+1:]
		}
		return &Target{Endpoint: title(handler) + "." + title(method)}, nil
	}
	var found []*registry.Endpoint
	for _, e := range eps {
		h, m, _ := strings.Cut(e.Name, ".")
		if strings.EqualFold(m, method) && (handler == "" || strings.EqualFold(h, handler)) {
			found = append(found, e)
		}
	}
	if len(found) > 1 {
		for _, e := range found {
			if h, _, _ := strings.Cut(e.Name, "."); strings.EqualFold(h, service) {
				found = []*registry.Endpoint{e}
				break
			}
		}
	}
	switch len(found) {
	case 1:
		return &Target{Endpoint: found[0].Name, Desc: found[0]}, nil
	case 0:
		return nil, &Error{Kind: ErrEndpointNotFound, Service: service, Name: name, Endpoints: endpointNames(eps)}
	}
	return nil, &Error{Kind: ErrAmbiguous, Service: service, Name: name, Endpoints: endpointNames(found)}
}

// Endpoints are the endpoints of every version, each name once, sorted.
func Endpoints(svcs []*registry.Service) []*registry.Endpoint {
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

func endpointNames(eps []*registry.Endpoint) []string {
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = e.Name
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

package metrics

import "sync"

// MaxClientEndpoints bounds the (service, endpoint) pairs the client
// metrics of one Metrics keep series for. A client names what it calls
// itself, so a program that builds endpoint names from input could
// otherwise grow the registry without bound; past the bound, calls count
// under the endpoint OtherEndpoint. (A server labels only the endpoints it
// serves, which are bounded.)
const MaxClientEndpoints = 1024

// OtherEndpoint is the micro_endpoint label of the calls counted past
// MaxClientEndpoints.
const OtherEndpoint = "other"

// endpointSet remembers the (service, endpoint) pairs labelled so far.
// Safe for concurrent use.
type endpointSet struct {
	mu sync.RWMutex
	m  map[[2]string]struct{}
}

// label returns the endpoint label of a call of service's endpoint:
// endpoint itself while the set has room or already holds the pair,
// OtherEndpoint past MaxClientEndpoints.
func (s *endpointSet) label(service, endpoint string) string {
	key := [2]string{service, endpoint}
	s.mu.RLock()
	_, ok := s.m[key]
	s.mu.RUnlock()
	if ok {
		return endpoint
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[[2]string]struct{})
	}
	if _, ok := s.m[key]; !ok && len(s.m) >= MaxClientEndpoints {
		return OtherEndpoint
	}
	s.m[key] = struct{}{}
	return endpoint
}

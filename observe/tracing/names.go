package tracing

import "sync"

// maxSpanNames bounds the span names a Tracing keeps: past it (only a
// client calling endpoints named from input could get there) names are
// built per span.
const maxSpanNames = 4096

// spanNames keeps the span name "service/Endpoint" of each pair seen, so
// that a span costs no string concatenation. Safe for concurrent use.
type spanNames struct {
	mu sync.RWMutex
	m  map[nameKey]string
}

type nameKey struct{ service, endpoint string }

func (s *spanNames) of(service, endpoint string) string {
	key := nameKey{service, endpoint}
	s.mu.RLock()
	name, ok := s.m[key]
	s.mu.RUnlock()
	if ok {
		return name
	}
	name = service + "/" + endpoint
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[nameKey]string)
	}
	if len(s.m) < maxSpanNames {
		s.m[key] = name
	}
	s.mu.Unlock()
	return name
}

package server

// Stats are a server's request counters.
type Stats struct {
	// InFlight is the number of requests (unary calls and streams) being
	// served now; refused ones are not counted.
	InFlight int
	// Refused counts the requests refused unprocessed because
	// WithMaxConcurrent requests were in flight, since New.
	Refused uint64
}

// StatsReporter is implemented by the Server that New returns:
//
//	if sr, ok := srv.(server.StatsReporter); ok { s := sr.Stats() }
type StatsReporter interface {
	// Stats returns the server's counters. It does not block beyond a
	// short critical section.
	Stats() Stats
}

// Stats implements StatsReporter.
func (s *server) Stats() Stats {
	s.mu.Lock()
	inFlight := s.limited
	s.mu.Unlock()
	return Stats{InFlight: int(inFlight), Refused: s.refused.Load()}
}

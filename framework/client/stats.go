package client

import (
	"sync/atomic"

	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/selector"
)

// Stats are a client's unary call counters since New. Streams count only
// in Retries and RetriesDenied (the retries of opening one). Each counter is read atomically on its own, so a Stats taken
// while calls run is not a consistent cut across counters (for example
// Successes+Failures may lag Calls by the calls under way).
type Stats struct {
	// Calls counts Call invocations; Successes and Failures their results
	// as the caller saw them (after the call wrappers).
	Calls, Successes, Failures uint64
	// FailuresByCode splits Failures by the code of the error returned.
	// Only codes that occurred are present.
	FailuresByCode map[errors.Code]uint64
	// Attempts counts the requests sent towards a node: first attempts,
	// retries and hedges. An attempt refused before sending because its
	// deadline had passed is not counted.
	Attempts uint64
	// Retries counts the retries granted (the retry policy asked and the
	// budget agreed; each is sent after its backoff unless the call's ctx
	// ends first); RetriesDenied the retries the policy asked for but the
	// retry budget refused (the call then returned its last error).
	Retries, RetriesDenied uint64
	// Hedges counts backup requests sent; HedgesWon the calls whose answer
	// came from a backup request; HedgesDenied the backups not sent
	// because the retry budget refused them.
	Hedges, HedgesWon, HedgesDenied uint64
}

// StatsReporter is implemented by the Client that New returns:
//
//	if sr, ok := c.(client.StatsReporter); ok { s := sr.Stats() }
type StatsReporter interface {
	// Stats returns the client's counters. It does not block.
	Stats() Stats
	// NodeStats returns the per-node counters of service as the client's
	// selector keeps them (selector.StatsReporter), or nil when the
	// selector keeps none. It does not block.
	NodeStats(service string) []selector.NodeStats
}

// maxCode bounds the codes counted one by one: a code outside [0, maxCode)
// (only a much newer peer could send one) is counted as Unknown.
const maxCode = 32

// counters are the atomic counters behind Stats. Nothing here takes a lock.
type counters struct {
	calls, successes, failures  atomic.Uint64
	attempts                    atomic.Uint64
	retries, retriesDenied      atomic.Uint64
	hedges, hedgesWon, hedgesNo atomic.Uint64
	byCode                      [maxCode]atomic.Uint64
}

// result counts a call's outcome.
func (c *counters) result(err error) {
	if err == nil {
		c.successes.Add(1)
		return
	}
	c.failures.Add(1)
	code := errors.CodeOf(err)
	if code < 0 || code >= maxCode {
		code = errors.Unknown
	}
	c.byCode[code].Add(1)
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Calls:         c.calls.Load(),
		Successes:     c.successes.Load(),
		Failures:      c.failures.Load(),
		Attempts:      c.attempts.Load(),
		Retries:       c.retries.Load(),
		RetriesDenied: c.retriesDenied.Load(),
		Hedges:        c.hedges.Load(),
		HedgesWon:     c.hedgesWon.Load(),
		HedgesDenied:  c.hedgesNo.Load(),
	}
	for i := range c.byCode {
		if n := c.byCode[i].Load(); n > 0 {
			if s.FailuresByCode == nil {
				s.FailuresByCode = make(map[errors.Code]uint64)
			}
			s.FailuresByCode[errors.Code(i)] = n
		}
	}
	return s
}

// Stats implements StatsReporter.
func (c *rpcClient) Stats() Stats { return c.stats.snapshot() }

// NodeStats implements StatsReporter by delegating to the selector.
func (c *rpcClient) NodeStats(service string) []selector.NodeStats {
	if sr, ok := c.sel.(selector.StatsReporter); ok {
		return sr.Stats(service)
	}
	return nil
}

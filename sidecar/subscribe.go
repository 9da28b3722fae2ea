package sidecar

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/broker"
	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/gateway"
)

// deliveryTimeout bounds one delivery attempt.
const deliveryTimeout = 10 * time.Second

// sub is one subscription delivering to an app's URL.
type sub struct {
	topic, url, queue string
	bsub              broker.Subscription
	q                 chan *broker.Message
	done              chan struct{}
	closeOnce         sync.Once

	delivered, failed, dropped, attempts atomic.Uint64
}

// SubscriptionHealth is one subscription in Health.
type SubscriptionHealth struct {
	Topic     string `json:"topic"`
	URL       string `json:"url"`
	Queue     string `json:"queue,omitempty"`
	Queued    int    `json:"queued"`
	Delivered uint64 `json:"delivered"`
	// Attempts counts delivery attempts, retries included.
	Attempts uint64 `json:"attempts"`
	// Failed counts events dropped after their last attempt failed.
	Failed uint64 `json:"failed"`
	// Dropped counts events that found the queue full.
	Dropped uint64 `json:"dropped"`
}

func (sb *sub) health() SubscriptionHealth {
	return SubscriptionHealth{Topic: sb.topic, URL: sb.url, Queue: sb.queue, Queued: len(sb.q), Delivered: sb.delivered.Load(),
		Attempts: sb.attempts.Load(), Failed: sb.failed.Load(), Dropped: sb.dropped.Load()}
}

// close ends the subscription and the deliveries. Idempotent.
func (sb *sub) close() error {
	var err error
	sb.closeOnce.Do(func() {
		if sb.bsub != nil {
			err = sb.bsub.Close()
		}
		close(sb.done)
	})
	return err
}

type subscribeRequest struct {
	Topic string `json:"topic"`
	URL   string `json:"url"`
	Queue string `json:"queue"`
}

const subscribeExample = `{"topic": "orders", "url": "http://127.0.0.1:9000/events"}`

func checkSubscription(body []byte, what string) (*subscribeRequest, *gateway.Problem) {
	var req subscribeRequest
	if p := decode(body, &req, what, subscribeExample); p != nil {
		return nil, p
	}
	if p := checkTopic(req.Topic); p != nil {
		return nil, p
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, problem(http.StatusBadRequest, ferrors.BadRequest, "%s: url %q: give the URL events are POSTed to; send %s",
			what, clip(req.URL), subscribeExample)
	}
	if req.Queue != "" && !validName(req.Queue, ".-_") {
		return nil, problem(http.StatusBadRequest, ferrors.BadRequest, "%s: queue %q: use letters, digits, '.', '-' and '_'", what, clip(req.Queue))
	}
	return &req, nil
}

// subscribe handles POST /subscribe (idempotent for the same topic and URL).
func (s *Sidecar) subscribe(ctx context.Context, body []byte) (any, *gateway.Problem) {
	req, p := checkSubscription(body, "/subscribe")
	if p != nil {
		return nil, p
	}
	key := req.Topic + " " + req.URL
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, problem(http.StatusServiceUnavailable, ferrors.Unavailable, "%v", ErrClosed)
	}
	if _, ok := s.subs[key]; ok {
		s.mu.Unlock()
		return map[string]any{"subscribed": true, "topic": req.Topic}, nil
	}
	sb := &sub{topic: req.Topic, url: req.URL, queue: req.Queue, q: make(chan *broker.Message, s.opts.queueSize), done: make(chan struct{})}
	s.subs[key] = sb // reserved: a concurrent subscribe of the same key answers at once
	s.mu.Unlock()

	var opts []broker.SubscribeOption
	if req.Queue != "" {
		opts = append(opts, broker.Queue(req.Queue))
	}
	bsub, err := s.brk.Subscribe(ctx, req.Topic, sb.enqueue, opts...)
	if err != nil {
		s.mu.Lock()
		delete(s.subs, key)
		s.mu.Unlock()
		return nil, problem(http.StatusServiceUnavailable, ferrors.Unavailable, "/subscribe: %v", err)
	}
	s.mu.Lock()
	sb.bsub = bsub
	closed := s.closed || s.subs[key] != sb
	if !closed {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if closed { // Close or unsubscribe came first
		_ = bsub.Close()
		return nil, problem(http.StatusServiceUnavailable, ferrors.Unavailable, "/subscribe: %v", ErrClosed)
	}
	go s.deliver(sb)
	return map[string]any{"subscribed": true, "topic": req.Topic}, nil
}

// enqueue is the broker handler: it never blocks; a full queue drops.
func (sb *sub) enqueue(_ context.Context, _ string, m *broker.Message) error {
	c := &broker.Message{Header: maps.Clone(m.Header), Body: bytes.Clone(m.Body)}
	select {
	case sb.q <- c:
	default:
		sb.dropped.Add(1)
	}
	return nil
}

// unsubscribe handles POST /unsubscribe.
func (s *Sidecar) unsubscribe(_ context.Context, body []byte) (any, *gateway.Problem) {
	req, p := checkSubscription(body, "/unsubscribe")
	if p != nil {
		return nil, p
	}
	key := req.Topic + " " + req.URL
	s.mu.Lock()
	sb := s.subs[key]
	delete(s.subs, key)
	s.mu.Unlock()
	if sb == nil || sb.bsub == nil {
		return nil, problem(http.StatusNotFound, ferrors.NotFound, "/unsubscribe: no subscription of %s to %s", clip(req.Topic), clip(req.URL))
	}
	if err := sb.close(); err != nil {
		return nil, problem(http.StatusServiceUnavailable, ferrors.Unavailable, "/unsubscribe: %v", err)
	}
	return map[string]any{"unsubscribed": true}, nil
}

// deliver posts the queued events to the app until the subscription ends.
func (s *Sidecar) deliver(sb *sub) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-sb.done
		cancel()
	}()
	for {
		select {
		case <-sb.done:
			return
		case m := <-sb.q:
			s.deliverOne(ctx, sb, m)
		}
	}
}

// deliverOne posts m, retrying with exponential backoff.
func (s *Sidecar) deliverOne(ctx context.Context, sb *sub, m *broker.Message) {
	wait := s.opts.backoff
	for attempt := 1; ; attempt++ {
		sb.attempts.Add(1)
		if s.post1(ctx, sb, m) {
			sb.delivered.Add(1)
			return
		}
		if attempt == s.opts.attempts || ctx.Err() != nil {
			sb.failed.Add(1)
			return
		}
		select {
		case <-ctx.Done():
			sb.failed.Add(1)
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// post1 makes one delivery attempt; it reports success (a 2xx reply).
func (s *Sidecar) post1(ctx context.Context, sb *sub, m *broker.Message) bool {
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sb.url, bytes.NewReader(m.Body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Micro-Topic", sb.topic)
	for k, v := range m.Header {
		if !metadata.IsReserved(k) && !strings.EqualFold(k, "Content-Type") {
			req.Header.Set(k, v)
		}
	}
	res, err := s.opts.http.Do(req)
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode >= 200 && res.StatusCode <= 299
}

package probe

import (
	"context"
	"sync"
	"time"
)

// sharedCheck is a node check with its last answer, shared by the node's
// replicas so the node is not checked once per replica.
type sharedCheck struct {
	check NodeCheck

	mu       sync.Mutex // guards the fields below; never held during a check
	checking bool       // a replica of the node is asking right now
	at       time.Time  // of the last answer; zero before the first
	last     NodeResult
}

// get returns the last answer when it is younger than maxAge, else asks
// again. While one replica asks, the others use the previous answer instead
// of waiting (ok is false when there is none yet): a slow or hanging check
// holds one poll worker, never the whole pool.
func (s *sharedCheck) get(ctx context.Context, maxAge time.Duration) (r NodeResult, ok bool) {
	s.mu.Lock()
	if s.checking || (!s.at.IsZero() && time.Since(s.at) < maxAge) {
		r, ok = s.last, !s.at.IsZero()
		s.mu.Unlock()
		return r, ok
	}
	s.checking = true
	s.mu.Unlock()

	got := s.check.Check(ctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.checking = false
	if ctx.Err() != nil {
		return got, false // shutting down: nothing worth keeping
	}
	s.at, s.last = time.Now(), got
	return got, true
}

package live

import (
	"errors"
	"sync"
	"time"
)

// Why a client is turned away.
var (
	errFull   = errors.New("too many live connections; retry later")
	errFullIP = errors.New("too many live connections from this address; retry later")
)

// slots counts the connections open, in total and per client, against
// their caps. Handlers take a slot before the upgrade and give it back
// when the connection ends.
type slots struct {
	mu           sync.Mutex
	total, perIP int // caps; perIP 0: none
	open         int
	byIP         map[string]int
	warned       time.Time // when a refusal was last logged
}

func newSlots(total, perIP int) *slots {
	return &slots{total: total, perIP: perIP, byIP: map[string]int{}}
}

// take counts a connection from ip in, or says why it may not be.
func (s *slots) take(ip string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.open >= s.total:
		return errFull
	case s.perIP > 0 && s.byIP[ip] >= s.perIP:
		return errFullIP
	}
	s.open++
	s.byIP[ip]++
	return nil
}

// count is the number of connections open.
func (s *slots) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

func (s *slots) give(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.byIP[ip]--; s.byIP[ip] <= 0 {
		delete(s.byIP, ip)
	}
}

// warn reports whether a refusal at now should be logged (at most one a
// minute), with the counts to log.
func (s *slots) warn(now time.Time) (ok bool, open, total, perIP int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.warned) < time.Minute {
		return false, 0, 0, 0
	}
	s.warned = now
	return true, s.open, s.total, s.perIP
}

// lower brings the total cap down to at most n (at least 1).
func (s *slots) lower(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total = max(min(s.total, n), 1)
}

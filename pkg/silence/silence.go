// Package silence holds the pause of reminder notifications that operators
// set through the manager API.
package silence

import (
	"sync/atomic"
	"time"
)

// Silence is the pause of reminder notifications set through
// PUT /manager/prober/alerts/ignored. The zero value is "not silenced". It is
// safe for concurrent use and never blocks, so the notifier may ask it before
// every reminder.
type Silence struct {
	until atomic.Int64 // Unix nanoseconds; 0 means none
}

// Set silences reminders until the given moment.
func (s *Silence) Set(until time.Time) { s.until.Store(until.UnixNano()) }

// Clear ends the silence.
func (s *Silence) Clear() { s.until.Store(0) }

// Until returns when the silence ends and whether one was set (it may be
// over already).
func (s *Silence) Until() (time.Time, bool) {
	n := s.until.Load()
	if n == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// Active reports whether reminders are silenced at now.
func (s *Silence) Active(now time.Time) bool { return s.Remaining(now) > 0 }

// Remaining returns how long reminders stay silenced after now; 0 when they
// are not.
func (s *Silence) Remaining(now time.Time) time.Duration {
	until, ok := s.Until()
	if !ok {
		return 0
	}
	return max(until.Sub(now), 0)
}

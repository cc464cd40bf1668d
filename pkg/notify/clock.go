package notify

import "time"

// Clock is the dispatcher's source of time for coalescing and reminders.
// Tests inject a fake one; delivery timeouts and retry waits use real time.
type Clock interface {
	Now() time.Time
	// After sends the time on the returned channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

// systemClock is the wall clock.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

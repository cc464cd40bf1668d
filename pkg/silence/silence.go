// Package silence holds the pause of reminder notifications that operators
// set through the manager API.
package silence

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overvakt/overvakt/pkg/store"
)

// stateKey is where the silence is kept in the store: its end in Unix
// milliseconds, "0" for none.
const stateKey = "silence.until"

// Silence is the pause of reminder notifications set through
// PUT /manager/prober/alerts/ignored. The zero value is "not silenced" and
// keeps nothing. It is safe for concurrent use, and reading it never
// blocks, so the notifier may ask it before every reminder.
type Silence struct {
	until atomic.Int64 // Unix nanoseconds; 0 means none
	st    store.State  // nil: kept in memory only
	mu    sync.Mutex   // orders writes, so the store holds the last one
}

// New returns the silence kept in st, as it was when the server stopped.
func New(ctx context.Context, st store.State) (*Silence, error) {
	s := &Silence{st: st}
	v, ok, err := st.GetState(ctx, stateKey)
	if err != nil {
		return nil, fmt.Errorf("silence: read %s: %w", stateKey, err)
	}
	if ok {
		ms, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("silence: %s holds %q, not a time", stateKey, v)
		}
		if ms > 0 {
			s.until.Store(time.UnixMilli(ms).UnixNano())
		}
	}
	return s, nil
}

// Set silences reminders until the given moment, once the store has it.
func (s *Silence) Set(ctx context.Context, until time.Time) error {
	return s.put(ctx, until.UnixNano())
}

// Clear ends the silence, once the store has it.
func (s *Silence) Clear(ctx context.Context) error { return s.put(ctx, 0) }

func (s *Silence) put(ctx context.Context, nanos int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st != nil {
		ms := int64(0)
		if nanos != 0 {
			ms = max(time.Unix(0, nanos).UnixMilli(), 1)
		}
		if err := s.st.PutState(ctx, stateKey, []byte(strconv.FormatInt(ms, 10))); err != nil {
			return fmt.Errorf("silence: keep it: %w", err)
		}
	}
	s.until.Store(nanos)
	return nil
}

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

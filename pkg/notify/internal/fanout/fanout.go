// Package fanout helps channels that send one request per recipient (SMS
// numbers, push user keys): retries reach only those that failed, and the
// error says which did.
package fanout

import (
	"fmt"
	"strings"
	"sync"

	"github.com/overvakt/overvakt/pkg/notify"
)

// Delivered remembers who already got the message being sent. The
// dispatcher retries a message with the same pointer, so a retry after a
// partial failure reaches only the recipients that failed.
type Delivered struct {
	mu   sync.Mutex
	msg  *notify.Message
	done map[string]bool
}

// Pending is the recipients of all that have not got m yet.
func (d *Delivered) Pending(m *notify.Message, all []string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.msg != m {
		d.msg, d.done = m, map[string]bool{}
	}
	var out []string
	for _, to := range all {
		if !d.done[to] {
			out = append(out, to)
		}
	}
	return out
}

// Add records that to got m.
func (d *Delivered) Add(m *notify.Message, to string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.msg == m {
		d.done[to] = true
	}
}

// PartialError says which recipients failed and unwraps to each cause.
type PartialError struct {
	Msg  string
	Errs []error
}

func (e *PartialError) Error() string   { return e.Msg }
func (e *PartialError) Unwrap() []error { return e.Errs }

// SendEach calls send for every recipient of all that has not got m yet and
// records who got it. On failures it returns a *PartialError such as
// "twilio: 1 of 2 numbers failed: +1555…: <cause>"; label names a recipient
// in that text without giving away a secret.
func (d *Delivered) SendEach(m *notify.Message, all []string, channel, noun string,
	label func(string) string, send func(to string) error) error {
	var failed []string
	var errs []error
	for _, to := range d.Pending(m, all) {
		if err := send(to); err != nil {
			failed = append(failed, label(to)+": "+err.Error())
			errs = append(errs, err)
			continue
		}
		d.Add(m, to)
	}
	if len(errs) == 0 {
		return nil
	}
	return &PartialError{
		Msg:  fmt.Sprintf("%s: %d of %d %s failed: %s", channel, len(errs), len(all), noun, strings.Join(failed, "; ")),
		Errs: errs,
	}
}

// Package fanout helps channels that send one request per recipient (SMS
// numbers, push user keys): retries reach only those that failed and may
// still succeed, and the error says which failed.
package fanout

import (
	"fmt"
	"strings"
	"sync"

	"github.com/overvakt/overvakt/pkg/notify"
)

// Delivered remembers, for the message being sent, who already got it and
// who failed for good (a notify.Permanent error). The dispatcher retries a
// message with the same pointer, so a retry after a partial failure
// reaches only the recipients that failed for a reason a retry may cure.
type Delivered struct {
	mu     sync.Mutex
	msg    *notify.Message
	done   map[string]bool
	failed map[string]error // permanent failures, not sent again
}

// reset starts over when m is a new message; d.mu is held.
func (d *Delivered) reset(m *notify.Message) {
	if d.msg != m {
		d.msg, d.done, d.failed = m, map[string]bool{}, map[string]error{}
	}
}

// Pending is the recipients of all that have neither got m yet nor failed
// for good.
func (d *Delivered) Pending(m *notify.Message, all []string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reset(m)
	var out []string
	for _, to := range all {
		if !d.done[to] && d.failed[to] == nil {
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

// Fail records that to cannot get m: err is permanent. Sending m again
// skips to and reports err again.
func (d *Delivered) Fail(m *notify.Message, to string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.msg == m {
		d.failed[to] = err
	}
}

// failedForGood is the permanent error recorded for to, or nil.
func (d *Delivered) failedForGood(m *notify.Message, to string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.msg != m {
		return nil
	}
	return d.failed[to]
}

// PartialError says which recipients failed and unwraps to each cause. It
// is permanent (notify.IsPermanent) only when every cause is: then no
// retry can reach anyone more.
type PartialError struct {
	Msg  string
	Errs []error
}

func (e *PartialError) Error() string   { return e.Msg }
func (e *PartialError) Unwrap() []error { return e.Errs }

// SendEach calls send for every recipient of all that has not got m yet
// and has not failed for good, and records who got it and who failed for
// good. On failures it returns a *PartialError such as "twilio: 1 of 2
// numbers failed: +1555…: <cause>", naming also the recipients that failed
// for good on an earlier attempt (with that cause; they are not sent
// again); label names a recipient in that text without giving away a
// secret.
func (d *Delivered) SendEach(m *notify.Message, all []string, channel, noun string,
	label func(string) string, send func(to string) error) error {
	now := map[string]error{}
	for _, to := range d.Pending(m, all) {
		err := send(to)
		switch {
		case err == nil:
			d.Add(m, to)
		case notify.IsPermanent(err):
			d.Fail(m, to, err)
			now[to] = err
		default:
			now[to] = err
		}
	}
	var failed []string
	var errs []error
	for _, to := range all {
		err := now[to]
		if err == nil {
			err = d.failedForGood(m, to)
		}
		if err == nil {
			continue
		}
		failed = append(failed, label(to)+": "+err.Error())
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return &PartialError{
		Msg:  fmt.Sprintf("%s: %d of %d %s failed: %s", channel, len(errs), len(all), noun, strings.Join(failed, "; ")),
		Errs: errs,
	}
}

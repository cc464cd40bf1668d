package fanout

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/notify"
)

// answers is a fan-out's recipients and what each says, attempt by
// attempt (the last repeats; nil is success), counting the sends.
type answers map[string][]error

func (a answers) send(sent map[string]int) func(string) error {
	return func(to string) error {
		sent[to]++
		errs := a[to]
		return errs[min(sent[to], len(errs))-1]
	}
}

func same(to string) string { return to }

func TestPermanentRecipientsAreNotRetried(t *testing.T) {
	refused := notify.Permanent(errors.New("400 Bad Request: not a valid phone number"), "400 Bad Request: the provider refused the request")
	busy := errors.New("503 Service Unavailable")
	all := []string{"good", "refused", "busy"}
	a := answers{"good": {nil}, "refused": {refused}, "busy": {busy, nil}}
	sent := map[string]int{}
	var d Delivered
	m := &notify.Message{}

	err := d.SendEach(m, all, "sms", "numbers", same, a.send(sent))
	if err == nil || err.Error() != "sms: 2 of 3 numbers failed: refused: 400 Bad Request: not a valid phone number; busy: 503 Service Unavailable" {
		t.Fatalf("first attempt: %v", err)
	}
	if notify.IsPermanent(err) {
		t.Error("first attempt is permanent while busy may still succeed")
	}

	// The retry reaches busy alone; what is left is the refusal, permanent.
	err = d.SendEach(m, all, "sms", "numbers", same, a.send(sent))
	if fmt.Sprint(sent) != "map[busy:2 good:1 refused:1]" {
		t.Errorf("after the retry, sends %v, want the refused number not sent again", sent)
	}
	if err == nil || err.Error() != "sms: 1 of 3 numbers failed: refused: 400 Bad Request: not a valid phone number" {
		t.Fatalf("retry: %v, want the refusal still named", err)
	}
	if !notify.IsPermanent(err) {
		t.Error("retry: only a permanent failure is left, but the error is not permanent")
	}

	// A new message goes to everyone.
	d.SendEach(&notify.Message{}, all, "sms", "numbers", same, a.send(sent))
	if fmt.Sprint(sent) != "map[busy:3 good:2 refused:2]" {
		t.Errorf("after a new message, sends %v, want everyone once more", sent)
	}
}

func TestEveryFailurePermanent(t *testing.T) {
	refused := notify.Permanent(errors.New("401 Unauthorized"), "401 Unauthorized: the credentials were refused")
	var d Delivered
	sent := map[string]int{}
	a := answers{"a": {refused}, "b": {refused}}
	err := d.SendEach(&notify.Message{}, []string{"a", "b"}, "push", "user keys", same, a.send(sent))
	if !notify.IsPermanent(err) {
		t.Errorf("%v: every recipient refused for good, but the error is not permanent", err)
	}
}

func TestRetryAfterOfAFanOut(t *testing.T) {
	var d Delivered
	a := answers{
		"a": {notify.RetryAfter(errors.New("429"), 2*time.Second)},
		"b": {notify.RetryAfter(errors.New("429"), 5*time.Second)},
		"c": {errors.New("500")},
	}
	err := d.SendEach(&notify.Message{}, []string{"a", "b", "c"}, "sms", "numbers", same, a.send(map[string]int{}))
	if after, ok := notify.RetryAfterOf(err); !ok || after != 5*time.Second {
		t.Errorf("RetryAfterOf = %v, %v; want the longest, 5s", after, ok)
	}
	if !strings.HasPrefix(err.Error(), "sms: 3 of 3 numbers failed") {
		t.Errorf("error %q", err)
	}
}

package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetryClassOfErrors(t *testing.T) {
	base := errors.New("403 Forbidden: no")
	other := errors.New("404 Not Found: gone")
	temporary := errors.New("502 Bad Gateway")
	tests := []struct {
		name      string
		err       error
		permanent bool
		why       string
		after     time.Duration // 0: none
	}{
		{"plain error is temporary", temporary, false, "", 0},
		{"permanent", Permanent(base, "the credentials were refused"), true, "the credentials were refused", 0},
		{"permanent without a reason", Permanent(base, ""), true, "retrying cannot help", 0},
		{"permanent, wrapped", fmt.Errorf("slack: %w", Permanent(base, "refused")), true, "refused", 0},
		{"joined, one part temporary", errors.Join(Permanent(base, "refused"), temporary), false, "", 0},
		{"joined, every part permanent", errors.Join(Permanent(base, "refused"), Permanent(other, "wrong URL"), Permanent(base, "refused")),
			true, "refused; wrong URL", 0},
		{"retry after", RetryAfter(temporary, 2*time.Second), false, "", 2 * time.Second},
		{"retry after, wrapped", fmt.Errorf("slack: %w", RetryAfter(temporary, 2*time.Second)), false, "", 2 * time.Second},
		{"joined, the longest retry after", errors.Join(RetryAfter(temporary, 2*time.Second), temporary, RetryAfter(temporary, 5*time.Second)),
			false, "", 5 * time.Second},
		{"retry after of nothing is nothing", RetryAfter(temporary, 0), false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
			if why, _ := permanentWhy(tt.err); why != tt.why {
				t.Errorf("why = %q, want %q", why, tt.why)
			}
			after, ok := RetryAfterOf(tt.err)
			if ok != (tt.after > 0) || after != tt.after {
				t.Errorf("RetryAfterOf = %v, %v; want %v", after, ok, tt.after)
			}
		})
	}

	// The marks change neither the text nor what errors.Is sees.
	for _, err := range []error{Permanent(base, "x"), RetryAfter(base, time.Second)} {
		if err.Error() != base.Error() || !errors.Is(err, base) {
			t.Errorf("%#v: text %q or errors.Is lost", err, err)
		}
	}
	if Permanent(nil, "x") != nil || RetryAfter(nil, time.Second) != nil {
		t.Error("marking nil made an error")
	}
}

// scripted answers its sends from errs, the last one repeating (nil is
// success), and notes when each came.
type scripted struct {
	errs  []error
	start time.Time
	calls []time.Duration
}

func (s *scripted) Name() string { return "scripted" }

func (s *scripted) Send(context.Context, *Message) error {
	s.calls = append(s.calls, time.Since(s.start))
	return s.errs[min(len(s.calls), len(s.errs))-1]
}

// The outbox's real timers under a fake clock (testing/synctest): the
// attempts come at the times the classes promise, and the test takes no
// time.
func TestDeliverHonoursRetryClass(t *testing.T) {
	temporary := errors.New("provider answered 500 Internal Server Error")
	refused := Permanent(errors.New("provider answered 401 Unauthorized"), "401 Unauthorized: the credentials were refused")
	limited := func(d time.Duration) error {
		return RetryAfter(errors.New("provider answered 429 Too Many Requests"), d)
	}
	const s = time.Second
	tests := []struct {
		name   string
		policy RetryPolicy
		errs   []error
		at     []time.Duration // when each attempt came
		warn   int             // lines at warn
		errLog string          // the one line at error, "" for none
	}{
		{name: "temporary: backoff", errs: []error{temporary},
			at: []time.Duration{0, s, 3 * s, 7 * s}, warn: 3, errLog: `msg="notification failed, giving up"`},
		{name: "permanent: once", errs: []error{refused},
			at: []time.Duration{0}, errLog: `msg="notification failed, not retried" channel=scripted kind=changed attempts=1 ` +
				`why="401 Unauthorized: the credentials were refused" error="provider answered 401 Unauthorized"`},
		{name: "temporary, then permanent", errs: []error{temporary, refused},
			at: []time.Duration{0, s}, warn: 1, errLog: `msg="notification failed, not retried" channel=scripted kind=changed attempts=2`},
		{name: "Retry-After longer than the backoff", errs: []error{limited(2 * s)},
			at: []time.Duration{0, 2 * s, 4 * s, 8 * s}, warn: 3, errLog: "giving up"},
		{name: "Retry-After shorter than the backoff", errs: []error{limited(100 * time.Millisecond)},
			at: []time.Duration{0, s, 3 * s, 7 * s}, warn: 3, errLog: "giving up"},
		{name: "Retry-After beyond Max is honoured", errs: []error{limited(120 * s)},
			at: []time.Duration{0, 120 * s, 240 * s, 360 * s}, warn: 3, errLog: "giving up"},
		{name: "Retry-After beyond the cap is cut to it", errs: []error{limited(time.Hour)},
			at: []time.Duration{0, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute}, warn: 3, errLog: "giving up"},
		{name: "a Max above the cap raises it", policy: RetryPolicy{Attempts: 2, Max: 10 * time.Minute}, errs: []error{limited(time.Hour)},
			at: []time.Duration{0, 10 * time.Minute}, warn: 1, errLog: "giving up"},
		{name: "sent after a Retry-After", errs: []error{limited(2 * s), nil},
			at: []time.Duration{0, 2 * s}, warn: 1},
		{name: "joined, one part temporary: retried", errs: []error{errors.Join(refused, temporary)},
			at: []time.Duration{0, s, 3 * s, 7 * s}, warn: 3, errLog: "giving up"},
		{name: "joined, every part permanent: once", errs: []error{errors.Join(refused, Permanent(temporary, "x"))},
			at: []time.Duration{0}, errLog: `why="401 Unauthorized: the credentials were refused; x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs bytes.Buffer
				ch := &scripted{errs: tt.errs, start: time.Now()}
				o := newOutbox(Channel{Notifier: ch}, 1, 10*time.Second, tt.policy.withDefaults(),
					slog.New(slog.NewTextHandler(&logs, nil)))
				o.deliver(t.Context(), t.Context(), &Message{Kind: Changed})

				if fmt.Sprint(ch.calls) != fmt.Sprint(tt.at) {
					t.Errorf("attempts at %v, want %v", ch.calls, tt.at)
				}
				log := logs.String()
				if n := strings.Count(log, "level=WARN"); n != tt.warn {
					t.Errorf("%d lines at warn, want %d:\n%s", n, tt.warn, log)
				}
				errLines := strings.Count(log, "level=ERROR")
				switch {
				case tt.errLog == "" && errLines != 0:
					t.Errorf("%d lines at error, want none:\n%s", errLines, log)
				case tt.errLog != "" && (errLines != 1 || !strings.Contains(log, tt.errLog)):
					t.Errorf("want one line at error with %q:\n%s", tt.errLog, log)
				}
			})
		})
	}
}

func TestRetryAfterIsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		ch := &scripted{errs: []error{RetryAfter(errors.New("429 Too Many Requests"), 2*time.Hour), nil}, start: time.Now()}
		o := newOutbox(Channel{Notifier: ch}, 1, 10*time.Second, RetryPolicy{}.withDefaults(),
			slog.New(slog.NewTextHandler(&logs, nil)))
		o.deliver(t.Context(), t.Context(), &Message{Kind: Changed})
		want := `msg="notification failed, will retry" channel=scripted kind=changed attempt=1 retry_in=5m0s retry_after=2h0m0s error="429 Too Many Requests"`
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	})
}

// Shutdown cuts a long Retry-After short, as it does the backoff.
func TestShutdownEndsRetryAfterWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		ch := &scripted{errs: []error{RetryAfter(errors.New("429 Too Many Requests"), 120*time.Second)}, start: time.Now()}
		o := newOutbox(Channel{Notifier: ch}, 1, 10*time.Second, RetryPolicy{}.withDefaults(),
			slog.New(slog.NewTextHandler(&logs, nil)))
		ctx, shutdown := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, shutdown)
		o.deliver(ctx, context.WithoutCancel(ctx), &Message{Kind: Changed})
		if took := time.Since(ch.start); took != time.Second {
			t.Errorf("delivery ended after %v, want at the shutdown, 1s", took)
		}
		if len(ch.calls) > 2 {
			t.Errorf("attempts at %v, want none after the shutdown's", ch.calls)
		}
		if !strings.Contains(logs.String(), "giving up") {
			t.Errorf("log lacks the end:\n%s", logs.String())
		}
	})
}

package notice

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// mailbox is a Mailer that keeps what it is given.
type mailbox struct {
	mu    sync.Mutex
	mails []Mail
	fail  error
}

func (m *mailbox) Send(_ context.Context, mail Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.mails = append(m.mails, mail)
	return nil
}

// take returns the mails sent since the last take.
func (m *mailbox) take() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.mails
	m.mails = nil
	return out
}

// hooks is an http.RoundTripper that keeps the webhook documents posted.
type hooks struct {
	mu   sync.Mutex
	docs []map[string]any
	urls []string
}

func (h *hooks) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil || r.Header.Get("Content-Type") != "application/json" {
		return &http.Response{StatusCode: 400, Body: http.NoBody, Request: r}, nil
	}
	h.mu.Lock()
	h.docs = append(h.docs, doc)
	h.urls = append(h.urls, r.URL.String())
	h.mu.Unlock()
	return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
}

func (h *hooks) take() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.docs
	h.docs = nil
	return out
}

func newSubscriptions(t *testing.T, st store.Store, mail Mailer, rt http.RoundTripper) *Subscriptions {
	t.Helper()
	s, err := NewSubscriptions(ctx, SubscriptionOptions{Store: st, State: st, Mailer: mail, HTTP: &http.Client{Transport: rt},
		PageURL: "https://status.example.com", PageTitle: "Acme Status", Components: known{}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var linkRE = regexp.MustCompile(`https://status\.example\.com/(subscribe/confirm|unsubscribe)\?token=([^\s>]+)`)

// linkToken reads the token of the link in a mail.
func linkToken(t *testing.T, text string) string {
	t.Helper()
	m := linkRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no link in %q", text)
	}
	tok, err := url.QueryUnescape(m[2])
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func incidentEvent(kind, status string, affected ...store.Component) Event {
	return Event{Kind: kind, Incident: Incident{ID: "i1", Title: "Slow API", Impact: "minor", Status: status, Affected: affected,
		Updates: []Update{{At: time.Now(), Status: status, Text: "We *see* it."}}}}
}

// run runs s until the test's bubble ends.
func run(t *testing.T, s *Subscriptions, schedule *Schedule) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, schedule) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestSubscriptionLifecycle: subscribe, confirm by the link, get an
// incident's mail with its unsubscribe link and header, unsubscribe by
// it, get nothing more; a restart keeps the subscriber and the links.
func TestSubscriptionLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		box := &mailbox{}
		s := newSubscriptions(t, st, box, &hooks{})
		run(t, s, nil)
		api := store.Component{Service: "web", Node: "api"}

		if err := s.Subscribe(ctx, " Ada@Example.com ", []string{"web"}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		mails := box.take()
		if len(mails) != 1 || mails[0].To != "ada@example.com" || mails[0].Subject != "[Acme Status] Confirm your subscription" ||
			!strings.Contains(mails[0].Text, "for web.") || mails[0].Headers["List-Unsubscribe"] != "" {
			t.Fatalf("confirmation: %+v", mails)
		}
		confirm := linkToken(t, mails[0].Text)

		// Nothing goes to an address not confirmed yet.
		s.Incident(incidentEvent("opened", "investigating", api))
		synctest.Wait()
		if got := box.take(); len(got) != 0 {
			t.Fatalf("mailed before confirming: %+v", got)
		}
		if s.CanConfirm("wrong") || !s.CanConfirm(confirm) {
			t.Fatal("CanConfirm")
		}
		if ok, err := s.Confirm(ctx, confirm); !ok || err != nil {
			t.Fatalf("confirm: %v %v", ok, err)
		}
		if ok, _ := s.Confirm(ctx, confirm); ok {
			t.Error("a confirmation link worked twice")
		}

		s.Incident(incidentEvent("updated", "identified", api))
		synctest.Wait()
		mails = box.take()
		if len(mails) != 1 || mails[0].Subject != "[Acme Status] Slow API — Identified" ||
			!strings.Contains(mails[0].Text, "We *see* it.") || !strings.Contains(mails[0].Text, "Affected: web:api") {
			t.Fatalf("update: %+v", mails)
		}
		h := mails[0].Headers
		if h["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" || !strings.HasPrefix(h["List-Unsubscribe"], "<https://status.example.com/unsubscribe?token=") {
			t.Errorf("headers %v", h)
		}
		unsub := linkToken(t, h["List-Unsubscribe"])
		if body := linkToken(t, mails[0].Text[strings.Index(mails[0].Text, "Unsubscribe"):]); body != unsub {
			t.Errorf("the link in the text %q is not the header's %q", body, unsub)
		}

		// Other components are not its business.
		s.Incident(incidentEvent("opened", "investigating", store.Component{Service: "db"}))
		synctest.Wait()
		if got := box.take(); len(got) != 0 {
			t.Fatalf("a db incident went to a web subscriber: %+v", got)
		}

		// A restart keeps it, and the link made before it.
		again := newSubscriptions(t, st, box, &hooks{})
		if !again.CanUnsubscribe(unsub) {
			t.Fatal("the unsubscribe link died with a restart")
		}
		// Forged and swapped tokens do nothing.
		id, _, _ := strings.Cut(unsub, ".")
		for _, bad := range []string{"", id, id + ".x", "other." + strings.SplitN(unsub, ".", 2)[1]} {
			if ok, _ := again.Unsubscribe(ctx, bad); ok {
				t.Errorf("token %q unsubscribed", bad)
			}
		}
		if ok, err := again.Unsubscribe(ctx, unsub); !ok || err != nil {
			t.Fatalf("unsubscribe: %v %v", ok, err)
		}
		if subs, _ := st.ListSubscribers(ctx); len(subs) != 0 {
			t.Errorf("kept after unsubscribing: %+v", subs)
		}
		run(t, again, nil)
		again.Incident(incidentEvent("resolved", "resolved", api))
		synctest.Wait()
		if got := box.take(); len(got) != 0 {
			t.Fatalf("mailed after unsubscribing: %+v", got)
		}
	})
}

// TestSubscribeAnswersAlike: a new address, one waiting for its
// confirmation and a confirmed one get the same answer; only the new one
// gets a mail, and a repeated request after ResendAfter a new link.
func TestSubscribeAnswersAlike(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		box := &mailbox{}
		s := newSubscriptions(t, memory.New(), box, &hooks{})
		if err := s.Subscribe(ctx, "ada@example.com", nil, "a"); err != nil {
			t.Fatal(err)
		}
		first := linkToken(t, box.take()[0].Text)
		if err := s.Subscribe(ctx, "ADA@example.com", nil, "b"); err != nil {
			t.Fatal(err)
		}
		if got := box.take(); len(got) != 0 {
			t.Fatalf("asked again at once: %d mails", len(got))
		}
		time.Sleep(ResendAfter)
		if err := s.Subscribe(ctx, "ada@example.com", nil, "c"); err != nil {
			t.Fatal(err)
		}
		mails := box.take()
		if len(mails) != 1 {
			t.Fatalf("asked again after %v: %d mails", ResendAfter, len(mails))
		}
		second := linkToken(t, mails[0].Text)
		if s.CanConfirm(first) || !s.CanConfirm(second) {
			t.Error("the new link must replace the old one")
		}
		if ok, _ := s.Confirm(ctx, second); !ok {
			t.Fatal("confirm")
		}
		time.Sleep(ResendAfter)
		if err := s.Subscribe(ctx, "ada@example.com", nil, "d"); err != nil {
			t.Fatal(err)
		}
		if got := box.take(); len(got) != 0 {
			t.Fatalf("a confirmed address was mailed again: %+v", got)
		}
	})
}

func TestSubscribeRefuses(t *testing.T) {
	box := &mailbox{}
	s := newSubscriptions(t, memory.New(), box, &hooks{})
	for _, c := range []struct {
		name, address string
		components    []string
		msg           string
	}{
		{"not an address", "ada", nil, "not an e-mail address"},
		{"a name with it", "Ada <ada@example.com>", nil, "not an e-mail address"},
		{"two addresses", "ada@example.com, bob@example.com", nil, "not an e-mail address"},
		{"a header in it", "ada@example.com\r\nBcc: x@example.com", nil, "not an e-mail address"},
		{"unknown component", "ada@example.com", []string{"web:nope"}, `unknown component "web:nope"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var inv *Invalid
			if err := s.Subscribe(ctx, c.address, c.components, "x"); !errors.As(err, &inv) || !strings.Contains(inv.Msg, c.msg) {
				t.Errorf("err = %v, want *Invalid saying %q", err, c.msg)
			}
		})
	}
	if got := box.take(); len(got) != 0 {
		t.Fatalf("refused requests sent %d mails", len(got))
	}
	off := newSubscriptions(t, memory.New(), nil, &hooks{})
	if err := off.Subscribe(ctx, "ada@example.com", nil, "x"); !errors.Is(err, ErrNoMail) || off.MailOn() {
		t.Errorf("without a mailer: %v", err)
	}
}

// TestSubscribeLimits: requests are limited per client, links expire, and
// a mail that cannot be sent is an error.
func TestSubscribeLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		box := &mailbox{}
		s := newSubscriptions(t, memory.New(), box, &hooks{})
		// PerIP an hour from one client; others are not held up.
		for i := range PerIP {
			if err := s.Subscribe(ctx, "user"+string(rune('a'+i))+"@example.com", nil, "198.51.100.7"); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		if err := s.Subscribe(ctx, "late@example.com", nil, "198.51.100.7"); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("request %d: %v, want ErrRateLimited", PerIP+1, err)
		}
		if err := s.Subscribe(ctx, "late@example.com", nil, "198.51.100.8"); err != nil {
			t.Fatalf("another client: %v", err)
		}
		time.Sleep(time.Hour / PerIP)
		if err := s.Subscribe(ctx, "later@example.com", nil, "198.51.100.7"); err != nil {
			t.Fatalf("after %v: %v", time.Hour/PerIP, err)
		}

		// A link is good for ConfirmWithin.
		box.take()
		if err := s.Subscribe(ctx, "slow@example.com", nil, "z"); err != nil {
			t.Fatal(err)
		}
		tok := linkToken(t, box.take()[0].Text)
		time.Sleep(ConfirmWithin + time.Second)
		if ok, _ := s.Confirm(ctx, tok); ok {
			t.Error("a confirmation link worked after ConfirmWithin")
		}

		// A mail that cannot be sent is an error, not a silent success.
		box.fail = errors.New("421 try later")
		if err := s.Subscribe(ctx, "bob@example.com", nil, "y"); err == nil {
			t.Error("a failed confirmation mail reported success")
		}
	})
}

// TestWebhooks: a webhook subscriber gets a JSON document for an
// incident update and for a window starting and ending, a removed one
// nothing more.
func TestWebhooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		rt := &hooks{}
		s := newSubscriptions(t, st, &mailbox{}, rt)
		schedule, err := NewSchedule(ctx, ScheduleOptions{Store: st, Components: known{}})
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"ftp://x.example.com/", "/relative", "https://"} {
			var inv *Invalid
			if _, err := s.AddWebhook(ctx, bad, nil); !errors.As(err, &inv) {
				t.Errorf("webhook %q: %v, want *Invalid", bad, err)
			}
		}
		if _, err := s.AddWebhook(ctx, "https://hooks.example.com/db", []string{"nope"}); err == nil {
			t.Error("a webhook for an unknown component was added")
		}
		all, err := s.AddWebhook(ctx, "https://hooks.example.com/all", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddWebhook(ctx, "https://hooks.example.com/db", []string{"db"}); err != nil {
			t.Fatal(err)
		}
		if hs := s.Webhooks(); len(hs) != 2 || hs[0].URL != "https://hooks.example.com/all" {
			t.Fatalf("webhooks %+v", hs)
		}
		run(t, s, schedule)
		synctest.Wait()

		s.Incident(incidentEvent("updated", "identified", store.Component{Service: "web", Node: "api"}))
		synctest.Wait()
		docs := rt.take()
		if len(docs) != 1 || docs[0]["type"] != "incident" || docs[0]["event"] != "updated" {
			t.Fatalf("incident documents %v", docs)
		}
		inc := docs[0]["incident"].(map[string]any)
		if inc["id"] != "i1" || inc["status"] != "identified" || inc["affected"].([]any)[0] != "web:api" ||
			inc["updates"].([]any)[0].(map[string]any)["text"] != "We *see* it." {
			t.Errorf("incident document %v", inc)
		}

		start := time.Now().Add(time.Hour)
		w, err := schedule.Add(ctx, NewWindow{Title: "Upgrade", Affected: []string{"db"}, Start: start, End: start.Add(30 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if docs := rt.take(); len(docs) != 0 {
			t.Fatalf("scheduling told %v", docs)
		}
		time.Sleep(time.Until(start))
		synctest.Wait()
		docs = rt.take()
		if len(docs) != 2 || docs[0]["event"] != "started" || docs[1]["event"] != "started" {
			t.Fatalf("at the start: %v, want it told to both webhooks", docs)
		}
		win := docs[0]["window"].(map[string]any)
		if win["id"] != w.ID || win["title"] != "Upgrade" || win["start"] != start.UTC().Format(time.RFC3339) {
			t.Errorf("window document %v", win)
		}
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if docs := rt.take(); len(docs) != 2 || docs[0]["type"] != "maintenance" || docs[0]["event"] != "ended" {
			t.Fatalf("at the end: %v", docs)
		}

		// Made to start now, removed while open: started, then ended.
		now := time.Now()
		w2, err := schedule.Add(ctx, NewWindow{Title: "Hotfix", Affected: []string{"web"}, Start: now.Add(-time.Minute), End: now.Add(time.Hour)})
		if err != nil || !w2.Start.Equal(now) {
			t.Fatalf("a window starting in the past: %+v %v; want it to start now", w2, err)
		}
		synctest.Wait()
		if docs := rt.take(); len(docs) != 1 || docs[0]["event"] != "started" {
			t.Fatalf("a window made open: %v, want started, to the webhook for everything only", docs)
		}
		time.Sleep(10 * time.Minute)
		if _, err := schedule.Remove(ctx, w2.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		docs = rt.take()
		if len(docs) != 1 || docs[0]["event"] != "ended" || docs[0]["window"].(map[string]any)["end"] != time.Now().UTC().Format(time.RFC3339) {
			t.Fatalf("a window removed while open: %v, want it ended now", docs)
		}
		if ok, _ := s.RemoveWebhook(ctx, all.ID); !ok {
			t.Fatal("remove")
		}
		if ok, _ := s.RemoveWebhook(ctx, all.ID); ok {
			t.Error("removed twice")
		}
		s.Incident(incidentEvent("resolved", "resolved", store.Component{Service: "web"}))
		synctest.Wait()
		if docs := rt.take(); len(docs) != 0 {
			t.Fatalf("a removed webhook was told %v", docs)
		}
		if subs, _ := st.ListSubscribers(ctx); len(subs) != 1 {
			t.Errorf("kept %d subscribers, want the one left", len(subs))
		}
	})
}

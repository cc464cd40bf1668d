package notice

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/store"
)

// Subscriber is a visitor's address or a tool's webhook.
type Subscriber = store.Subscriber

// Mail is one e-mail to one subscriber.
type Mail struct {
	To, Subject, Text string
	Headers           map[string]string
}

// Mailer sends e-mail through the configured SMTP server.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Limits of subscriptions.
const (
	// PerIP is how many subscription requests one address may make an hour.
	PerIP = 5
	// MaxSubscribers bounds the subscribers kept, confirmed or not.
	MaxSubscribers = 100_000
	// queueSize bounds the events waiting to be sent.
	queueSize = 1024
	// ConfirmWithin is how long a confirmation link works.
	ConfirmWithin = 48 * time.Hour
	// ResendAfter is how long an address waits for another confirmation
	// mail: asking again sooner sends nothing, so nobody can flood a
	// mailbox from many addresses.
	ResendAfter = 10 * time.Minute
)

// Errors of subscriptions.
var (
	ErrRateLimited = errors.New("too many subscription requests from this address; try again later")
	ErrNoMail      = errors.New("e-mail subscriptions need [notify.email] (the SMTP server they are sent through)")
	ErrListFull    = errors.New("the list of subscribers is full")
)

// Subscriptions is the one owner of subscribers: visitors who subscribed by
// e-mail (confirmed by a link before anything else is sent) and webhooks
// registered by operators. It tells them of incidents and maintenance.
type Subscriptions struct {
	st         store.Subscribers
	secret     []byte // keys the unsubscribe links
	mailer     Mailer // nil: no e-mail subscriptions
	client     *http.Client
	pageURL    string // links in mails start here, with a trailing slash
	pageTitle  string
	components Components
	now        func() time.Time
	log        *slog.Logger

	mu      sync.Mutex // guards all below and orders store writes
	subs    []Subscriber
	buckets map[string]*bucket // by client address

	queue chan message
}

// message is something to tell subscribers.
type message struct {
	subject  string            // the mail's subject, without the page title
	text     string            // the mail's body, before the unsubscribe link
	payload  any               // the webhook's JSON document
	affected []store.Component // who it concerns; empty: everybody
}

// SubscriptionOptions configure Subscriptions; Store and Components are required.
type SubscriptionOptions struct {
	Store      store.Subscribers
	State      store.State  // keeps the key of the unsubscribe links
	Mailer     Mailer       // nil: e-mail subscriptions are off
	HTTP       *http.Client // for webhooks; nil: one with a 10 s timeout
	PageURL    string       // [branding] page_url: the links in mails
	PageTitle  string
	Components Components
	Now        func() time.Time
	Logger     *slog.Logger
}

// NewSubscriptions reads the subscribers kept.
func NewSubscriptions(ctx context.Context, o SubscriptionOptions) (*Subscriptions, error) {
	s := &Subscriptions{st: o.Store, mailer: o.Mailer, client: o.HTTP, pageURL: o.PageURL, pageTitle: o.PageTitle,
		components: o.Components, now: o.Now, log: o.Logger, buckets: map[string]*bucket{}, queue: make(chan message, queueSize)}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.pageURL != "" && !strings.HasSuffix(s.pageURL, "/") {
		s.pageURL += "/"
	}
	if s.pageTitle == "" {
		s.pageTitle = "Status"
	}
	subs, err := s.st.ListSubscribers(ctx)
	if err != nil {
		return nil, err
	}
	s.subs = subs
	if s.secret, err = linkKey(ctx, o.State); err != nil {
		return nil, err
	}
	return s, nil
}

// linkKey is the key that signs unsubscribe links, made once and kept, so
// the link in every mail a subscriber ever got keeps working.
func linkKey(ctx context.Context, st store.State) ([]byte, error) {
	const key = "subscriptions.link_key"
	v, ok, err := st.GetState(ctx, key)
	if err != nil {
		return nil, err
	}
	if ok && len(v) == 32 {
		return v, nil
	}
	v = make([]byte, 32)
	rand.Read(v)
	return v, st.PutState(ctx, key, v)
}

// unsubscribeToken is the token of sub's unsubscribe links: its id and
// an HMAC of it, good for nothing but unsubscribing it.
func (s *Subscriptions) unsubscribeToken(id string) string {
	return id + "." + s.mac(id)
}

func (s *Subscriptions) mac(id string) string {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte("unsubscribe:" + id))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// MailOn reports whether visitors can subscribe by e-mail.
func (s *Subscriptions) MailOn() bool { return s.mailer != nil }

// token returns a new unguessable token and the hash that is kept of it.
func token() (tok, hash string) {
	tok = rand.Text() + rand.Text() // 256 bits
	return tok, hashOf(tok)
}

func hashOf(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// Subscribe asks address to confirm a subscription to components (names
// of services and nodes; none: everything). The answer is the same for a
// new address and a known one, so addresses cannot be found out; a known
// confirmed address gets no mail. client is the asker's IP address, for
// the rate limit.
func (s *Subscriptions) Subscribe(ctx context.Context, address string, components []string, client string) error {
	if s.mailer == nil {
		return ErrNoMail
	}
	addr, err := mail.ParseAddress(strings.TrimSpace(address))
	if err != nil || addr.Name != "" || strings.ContainsAny(addr.Address, "\r\n") || len(addr.Address) > 254 {
		return &Invalid{"not an e-mail address; write it like ada@example.com"}
	}
	var comps []store.Component
	for _, name := range components {
		if !s.components.Known(name) {
			return &Invalid{"unknown component " + strconv.Quote(name)}
		}
		svc, node, _ := strings.Cut(name, ":")
		if c := (store.Component{Service: svc, Node: node}); !slices.Contains(comps, c) {
			comps = append(comps, c)
		}
	}
	s.mu.Lock()
	if !s.allow(client) {
		s.mu.Unlock()
		return ErrRateLimited
	}
	email := strings.ToLower(addr.Address)
	i := slices.IndexFunc(s.subs, func(x Subscriber) bool { return x.Email == email })
	if i >= 0 && s.subs[i].Confirmed {
		s.mu.Unlock()
		s.log.Info("subscription asked for a confirmed address; nothing sent")
		return nil
	}
	if i >= 0 && s.now().Sub(s.subs[i].Created) < ResendAfter {
		s.mu.Unlock()
		s.log.Info("subscription asked again too soon; nothing sent", "id", s.subs[i].ID)
		return nil
	}
	if i < 0 && len(s.subs) >= MaxSubscribers {
		s.mu.Unlock()
		return ErrListFull
	}
	confirm, confirmHash := token()
	sub := Subscriber{ID: rand.Text(), Email: email, Components: comps, ConfirmHash: confirmHash, Created: s.now()}
	if i >= 0 {
		sub.ID = s.subs[i].ID // a new link replaces the old one
	}
	err = s.put(ctx, sub)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	link := s.pageURL + "subscribe/confirm?token=" + url.QueryEscape(confirm)
	what := "all services"
	if len(comps) > 0 {
		what = strings.Join(names(comps), ", ")
	}
	text := "Someone, probably you, asked to be told by e-mail of incidents and maintenance on " + s.pageTitle +
		" (" + strings.TrimSuffix(s.pageURL, "/") + "), for " + what + ".\n\nConfirm with this link within 48 hours:\n\n" + link +
		"\n\nIf it was not you, ignore this mail: nothing more will be sent.\n"
	if err := s.mailer.Send(ctx, Mail{To: email, Subject: "[" + s.pageTitle + "] Confirm your subscription", Text: text}); err != nil {
		s.log.Error("subscription: the confirmation mail was not sent", "err", err)
		return fmt.Errorf("the confirmation mail could not be sent: %w", err)
	}
	s.log.Info("subscription asked; confirmation sent", "id", sub.ID)
	return nil
}

// CanConfirm reports whether a confirmation link works: its token is
// known and not too old.
func (s *Subscriptions) CanConfirm(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending(tok) >= 0
}

// pending finds the subscriber a confirmation token confirms; -1 when
// none. Caller holds s.mu.
func (s *Subscriptions) pending(tok string) int {
	h := hashOf(tok)
	i := slices.IndexFunc(s.subs, func(x Subscriber) bool { return x.ConfirmHash != "" && x.ConfirmHash == h })
	if i < 0 || s.now().Sub(s.subs[i].Created) > ConfirmWithin {
		return -1
	}
	return i
}

// Confirm confirms the subscription of a confirmation link; false when the
// token is unknown or too old.
func (s *Subscriptions) Confirm(ctx context.Context, tok string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.pending(tok)
	if i < 0 {
		return false, nil
	}
	sub := s.subs[i]
	sub.Confirmed, sub.ConfirmHash = true, ""
	if err := s.put(ctx, sub); err != nil {
		return false, err
	}
	s.log.Info("subscription confirmed", "id", sub.ID)
	return true, nil
}

// CanUnsubscribe reports whether an unsubscribe link works: its token is
// genuine and its subscriber still there.
func (s *Subscriptions) CanUnsubscribe(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subscribed(tok) >= 0
}

// subscribed finds the subscriber an unsubscribe token names; -1 when the
// token is not genuine or the subscriber is gone. Caller holds s.mu.
func (s *Subscriptions) subscribed(tok string) int {
	id, mac, ok := strings.Cut(tok, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.mac(id))) {
		return -1
	}
	return slices.IndexFunc(s.subs, func(x Subscriber) bool { return x.ID == id && x.Email != "" })
}

// Unsubscribe ends the subscription of an unsubscribe link; false when the
// token is unknown (already unsubscribed).
func (s *Subscriptions) Unsubscribe(ctx context.Context, tok string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.subscribed(tok)
	if i < 0 {
		return false, nil
	}
	id := s.subs[i].ID
	if _, err := s.st.DeleteSubscriber(ctx, id); err != nil {
		return false, err
	}
	s.subs = slices.Delete(s.subs, i, i+1)
	s.log.Info("unsubscribed", "id", id)
	return true, nil
}

// AddWebhook registers a tool's webhook, told of every incident update and
// maintenance event concerning components (none: everything).
func (s *Subscriptions) AddWebhook(ctx context.Context, rawURL string, components []string) (Subscriber, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Subscriber{}, &Invalid{`"url" must be an absolute http:// or https:// URL`}
	}
	var comps []store.Component
	for _, name := range components {
		if !s.components.Known(name) {
			return Subscriber{}, &Invalid{"unknown component " + strconv.Quote(name)}
		}
		svc, node, _ := strings.Cut(name, ":")
		comps = append(comps, store.Component{Service: svc, Node: node})
	}
	sub := Subscriber{ID: rand.Text(), URL: rawURL, Components: comps, Confirmed: true, Created: s.now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.subs) >= MaxSubscribers {
		return Subscriber{}, ErrListFull
	}
	if err := s.put(ctx, sub); err != nil {
		return Subscriber{}, err
	}
	s.log.Info("webhook subscriber added", "id", sub.ID)
	return sub, nil
}

// Webhooks returns the webhook subscribers.
func (s *Subscriptions) Webhooks() []Subscriber {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Subscriber
	for _, sub := range s.subs {
		if sub.URL != "" {
			out = append(out, sub)
		}
	}
	return out
}

// RemoveWebhook removes a webhook subscriber.
func (s *Subscriptions) RemoveWebhook(ctx context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.subs, func(x Subscriber) bool { return x.ID == id && x.URL != "" })
	if i < 0 {
		return false, nil
	}
	if _, err := s.st.DeleteSubscriber(ctx, id); err != nil {
		return false, err
	}
	s.subs = slices.Delete(s.subs, i, i+1)
	return true, nil
}

// put stores sub and keeps it in the list. Caller holds s.mu.
func (s *Subscriptions) put(ctx context.Context, sub Subscriber) error {
	if err := s.st.PutSubscriber(ctx, sub); err != nil {
		return err
	}
	if i := slices.IndexFunc(s.subs, func(x Subscriber) bool { return x.ID == sub.ID }); i >= 0 {
		s.subs[i] = sub
	} else {
		s.subs = append(s.subs, sub)
	}
	return nil
}

// bucket is a token bucket of subscription requests from one address.
type bucket struct {
	tokens float64
	at     time.Time
}

// allow takes a token of client's bucket: PerIP an hour. Caller holds s.mu.
func (s *Subscriptions) allow(client string) bool {
	now := s.now()
	b := s.buckets[client]
	if b == nil {
		if len(s.buckets) > 10_000 { // forget the quiet ones
			for k, old := range s.buckets {
				if now.Sub(old.at) > time.Hour {
					delete(s.buckets, k)
				}
			}
		}
		b = &bucket{tokens: PerIP, at: now}
		s.buckets[client] = b
	}
	b.tokens = min(PerIP, b.tokens+now.Sub(b.at).Hours()*PerIP)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Incident tells subscribers of an incident event; it never blocks (a
// full queue drops the event, and says so).
func (s *Subscriptions) Incident(e Event) {
	inc := e.Incident
	last := inc.Updates[len(inc.Updates)-1]
	status := strings.ToUpper(last.Status[:1]) + last.Status[1:]
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s\n\n%s\n\nImpact: %s\n", inc.Title, status, last.Text, inc.Impact)
	if len(inc.Affected) > 0 {
		fmt.Fprintf(&b, "Affected: %s\n", strings.Join(names(inc.Affected), ", "))
	}
	if s.pageURL != "" {
		fmt.Fprintf(&b, "\nFollow it on %s\n", s.pageURL)
	}
	s.enqueue(message{subject: inc.Title + " — " + status, text: b.String(), affected: inc.Affected,
		payload: map[string]any{"type": "incident", "event": e.Kind, "incident": incidentDoc(inc)}})
}

// Maintenance tells subscribers a window started or ended.
func (s *Subscriptions) Maintenance(event string, w Window) {
	verb := map[string]string{"started": "Maintenance started", "ended": "Maintenance ended"}[event]
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n\nFrom %s to %s.\n", verb, w.Title, w.Start.UTC().Format("Mon 2 Jan 2006 15:04"), w.End.UTC().Format("Mon 2 Jan 2006 15:04 MST"))
	if w.Text != "" {
		fmt.Fprintf(&b, "\n%s\n", w.Text)
	}
	fmt.Fprintf(&b, "\nAffected: %s\n", strings.Join(names(w.Affected), ", "))
	s.enqueue(message{subject: verb + ": " + w.Title, text: b.String(), affected: w.Affected,
		payload: map[string]any{"type": "maintenance", "event": event, "window": map[string]any{
			"id": w.ID, "title": w.Title, "text": w.Text, "affected": names(w.Affected), "start": utc(w.Start), "end": utc(w.End)}}})
}

func (s *Subscriptions) enqueue(m message) {
	select {
	case s.queue <- m:
	default:
		s.log.Error("subscribers not told: too many messages waiting", "subject", m.subject)
	}
}

func names(cs []store.Component) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Service
		if c.Node != "" {
			out[i] += ":" + c.Node
		}
	}
	return out
}

// incidentDoc is an incident in a webhook's document, as the manager API
// writes it.
func incidentDoc(inc Incident) map[string]any {
	ups := make([]map[string]any, len(inc.Updates))
	for i, u := range inc.Updates {
		ups[i] = map[string]any{"at": utc(u.At), "status": u.Status, "text": u.Text}
	}
	doc := map[string]any{"id": inc.ID, "title": inc.Title, "impact": inc.Impact, "status": inc.Status,
		"affected": names(inc.Affected), "created": utc(inc.Created), "updates": ups}
	if !inc.Resolved.IsZero() {
		doc["resolved"] = utc(inc.Resolved)
	}
	return doc
}

// utc is a time as the APIs write it: UTC, to the second.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// concerns reports whether a message about affected concerns sub.
func concerns(sub Subscriber, affected []store.Component) bool {
	if len(sub.Components) == 0 || len(affected) == 0 {
		return true
	}
	for _, want := range sub.Components {
		for _, a := range affected {
			if a == want || want.Node == "" && a.Service == want.Service || a.Node == "" && a.Service == want.Service {
				return true
			}
		}
	}
	return false
}

// Run sends what is queued until ctx ends, and tells subscribers when a
// window of schedule starts and ends (or is removed while open). Windows
// open when it starts were told of before.
func (s *Subscriptions) Run(ctx context.Context, schedule *Schedule) error {
	var changed <-chan struct{}
	open := map[string]Window{}
	var next <-chan time.Time
	if schedule != nil {
		ch, stop := schedule.Subscribe()
		defer stop()
		changed = ch
		for _, w := range schedule.Active(s.now()) {
			open[w.ID] = w
		}
	}
	arm := func() {
		next = nil
		if schedule == nil {
			return
		}
		now := s.now()
		if at := schedule.NextChange(now); !at.IsZero() {
			next = time.After(at.Sub(now))
		}
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-s.queue:
			s.send(ctx, m)
		case <-next:
			s.boundaries(schedule, open)
			arm()
		case <-changed:
			s.boundaries(schedule, open)
			arm()
		}
	}
}

// boundaries tells of windows that opened or closed since open was last
// brought up to date, and brings it up to date.
func (s *Subscriptions) boundaries(schedule *Schedule, open map[string]Window) {
	now := s.now()
	active := map[string]bool{}
	for _, w := range schedule.Active(now) {
		active[w.ID] = true
		if _, ok := open[w.ID]; !ok {
			open[w.ID] = w
			s.Maintenance("started", w)
		}
	}
	var ended []Window
	for id, w := range open {
		if !active[id] {
			delete(open, id)
			if w.End.After(now) {
				w.End = now // removed while open: it ended now
			}
			ended = append(ended, w)
		}
	}
	slices.SortFunc(ended, func(a, b Window) int { return strings.Compare(a.ID, b.ID) })
	for _, w := range ended {
		s.Maintenance("ended", w)
	}
}

// send tells every confirmed subscriber the message concerns, each mail
// with its own unsubscribe link. A failed webhook or mail is retried a few
// times, then given up, never holding the others.
func (s *Subscriptions) send(ctx context.Context, m message) {
	s.mu.Lock()
	var targets []Subscriber
	for _, sub := range s.subs {
		if sub.Confirmed && concerns(sub, m.affected) {
			targets = append(targets, sub)
		}
	}
	s.mu.Unlock()
	body, _ := json.Marshal(m.payload)
	for _, sub := range targets {
		var err error
		for attempt := range 3 {
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(attempt) * 2 * time.Second):
				}
			}
			if sub.URL != "" {
				err = s.post(ctx, sub.URL, body)
			} else {
				err = s.mail(ctx, sub, m)
			}
			if err == nil {
				break
			}
		}
		if err != nil {
			s.log.Error("subscriber not told", "id", sub.ID, "err", err)
		}
	}
}

func (s *Subscriptions) post(ctx context.Context, target string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "overvakt")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New("webhook answered " + resp.Status)
	}
	return nil
}

// mail sends m to sub, with its unsubscribe link.
func (s *Subscriptions) mail(ctx context.Context, sub Subscriber, m message) error {
	if s.mailer == nil {
		return ErrNoMail
	}
	link := s.pageURL + "unsubscribe?token=" + url.QueryEscape(s.unsubscribeToken(sub.ID))
	text := m.text + "\n--\nYou get this because you subscribed to " + s.pageTitle + ". Unsubscribe with one click: " + link + "\n"
	return s.mailer.Send(ctx, Mail{To: sub.Email, Subject: "[" + s.pageTitle + "] " + m.subject, Text: text,
		Headers: map[string]string{"List-Unsubscribe": "<" + link + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}})
}

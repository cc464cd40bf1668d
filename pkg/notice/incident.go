package notice

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/store"
)

// Incident is something that went wrong, told to visitors in dated
// updates; Updates are oldest first.
type Incident = store.Incident

// Update is one step of an incident's timeline.
type Update = store.IncidentUpdate

// Impacts and the steps of an incident, in the order they usually come.
var (
	Impacts = []string{"minor", "major", "critical"}
	Phases  = []string{"investigating", "identified", "monitoring", "resolved"}
)

// Limits on incidents.
const (
	MaxOpenIncidents = 100
	MaxUpdates       = 200
	MaxIncidentTitle = 200    // characters
	MaxUpdateText    = 10_000 // characters
)

// Errors of the incident desk; *Invalid says what is wrong with a request.
var (
	ErrNoIncident   = errors.New("no such incident")
	ErrResolved     = errors.New("the incident is resolved: it takes no more updates; open a new one")
	ErrNotDraft     = errors.New("the incident is public already")
	ErrTooManyOpen  = errors.New("there are already " + strconv.Itoa(MaxOpenIncidents) + " open incidents: resolve some first")
	ErrTooManySteps = errors.New("the incident has " + strconv.Itoa(MaxUpdates) + " updates already: resolve it and open a new one")
)

// Components says which services and nodes exist: "service" and
// "service:node" names.
type Components interface {
	Known(name string) bool
}

// Event is a change of an incident visitors may be told of.
type Event struct {
	Kind     string // "opened", "updated" or "resolved"
	Incident Incident
}

// Desk is the one owner of incidents. It is safe for concurrent use.
type Desk struct {
	store      store.Incidents
	components Components
	now        func() time.Time
	log        *slog.Logger
	events     func(Event) // told of every public change; nil: nobody

	mu   sync.Mutex // serializes writes
	view atomic.Pointer[deskView]
}

type deskView struct {
	all     []Incident // newest first, drafts included
	version uint64
}

// DeskOptions configure a Desk; Store and Components are required.
type DeskOptions struct {
	Store      store.Incidents
	Components Components
	Now        func() time.Time
	Logger     *slog.Logger
	// Events is told of every incident opened, updated or resolved in
	// public (drafts only once published); it must not block.
	Events func(Event)
}

// NewDesk reads the incidents already in the store.
func NewDesk(ctx context.Context, o DeskOptions) (*Desk, error) {
	d := &Desk{store: o.Store, components: o.Components, now: o.Now, log: o.Logger, events: o.Events}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if err := d.reload(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Incidents returns every incident, newest first, drafts included, and a
// version that grows with every change. The caller must not modify them.
func (d *Desk) Incidents() ([]Incident, uint64) {
	v := d.view.Load()
	return v.all, v.version
}

// Public returns what visitors see: open incidents and resolved ones,
// newest first, drafts left out.
func (d *Desk) Public() (open, resolved []Incident) {
	for _, inc := range d.view.Load().all {
		switch {
		case inc.Draft:
		case inc.Resolved.IsZero():
			open = append(open, inc)
		default:
			resolved = append(resolved, inc)
		}
	}
	return open, resolved
}

// Get returns one incident.
func (d *Desk) Get(id string) (Incident, error) {
	for _, inc := range d.view.Load().all {
		if inc.ID == id {
			return inc, nil
		}
	}
	return Incident{}, ErrNoIncident
}

// NewIncident is what an operator opens an incident with.
type NewIncident struct {
	Title, Impact, Status, Text string
	Affected                    []string // "service" or "service:node"
}

// Open opens an incident with its first update.
func (d *Desk) Open(ctx context.Context, n NewIncident) (Incident, error) {
	if n.Status == "" {
		n.Status = "investigating"
	}
	title, text, msg := cleanIncident(n.Title, n.Text)
	if msg == "" {
		msg = d.checkFields(n.Impact, n.Status)
	}
	affected, bad := d.parseAffected(n.Affected)
	if msg == "" && bad != "" {
		msg = bad
	}
	if msg != "" {
		return Incident{}, &Invalid{msg}
	}
	now := d.now()
	inc := Incident{ID: rand.Text(), Title: title, Impact: n.Impact, Affected: affected, Status: n.Status, Created: now,
		Updates: []Update{{At: now, Status: n.Status, Text: text}}}
	if n.Status == "resolved" {
		inc.Resolved = now
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if open := d.countOpen(); open >= MaxOpenIncidents {
		return Incident{}, ErrTooManyOpen
	}
	if err := d.put(ctx, inc); err != nil {
		return Incident{}, err
	}
	d.log.Info("incident opened", "id", inc.ID, "title", inc.Title, "impact", inc.Impact)
	d.tell("opened", inc)
	return inc, nil
}

// AddUpdate adds a step to an open incident's timeline; status
// "resolved" resolves it.
func (d *Desk) AddUpdate(ctx context.Context, id, status, text string) (Incident, error) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if msg := checkText(text); msg != "" {
		return Incident{}, &Invalid{msg}
	}
	if !slices.Contains(Phases, status) {
		return Incident{}, &Invalid{`"status" must be one of ` + strings.Join(Phases, ", ")}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	inc, err := d.Get(id)
	switch {
	case err != nil:
		return Incident{}, err
	case !inc.Resolved.IsZero():
		return Incident{}, ErrResolved
	case len(inc.Updates) >= MaxUpdates:
		return Incident{}, ErrTooManySteps
	}
	now := d.now()
	inc.Updates = append(slices.Clone(inc.Updates), Update{At: now, Status: status, Text: text})
	inc.Status = status
	kind := "updated"
	if status == "resolved" {
		inc.Resolved, kind = now, "resolved"
	}
	if err := d.put(ctx, inc); err != nil {
		return Incident{}, err
	}
	d.log.Info("incident "+kind, "id", id, "status", status)
	if !inc.Draft {
		d.tell(kind, inc)
	}
	return inc, nil
}

// Edit is a change of an incident's title, impact or affected components;
// nil fields stay as they are.
type Edit struct {
	Title, Impact *string
	Affected      *[]string
}

// Change edits an incident, resolved ones too (a typo in history).
func (d *Desk) Change(ctx context.Context, id string, e Edit) (Incident, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	inc, err := d.Get(id)
	if err != nil {
		return Incident{}, err
	}
	if e.Title != nil {
		title, _, msg := cleanIncident(*e.Title, "x")
		if msg != "" {
			return Incident{}, &Invalid{msg}
		}
		inc.Title = title
	}
	if e.Impact != nil {
		if !slices.Contains(Impacts, *e.Impact) {
			return Incident{}, &Invalid{`"impact" must be one of ` + strings.Join(Impacts, ", ")}
		}
		inc.Impact = *e.Impact
	}
	if e.Affected != nil {
		affected, bad := d.parseAffected(*e.Affected)
		if bad != "" {
			return Incident{}, &Invalid{bad}
		}
		inc.Affected = affected
	}
	if err := d.put(ctx, inc); err != nil {
		return Incident{}, err
	}
	d.log.Info("incident edited", "id", id)
	return inc, nil
}

// Publish makes a draft public.
func (d *Desk) Publish(ctx context.Context, id string) (Incident, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.publishLocked(ctx, id)
}

func (d *Desk) publishLocked(ctx context.Context, id string) (Incident, error) {
	inc, err := d.Get(id)
	if err != nil {
		return Incident{}, err
	}
	if !inc.Draft {
		return Incident{}, ErrNotDraft
	}
	inc.Draft, inc.PublishAt = false, time.Time{}
	if err := d.put(ctx, inc); err != nil {
		return Incident{}, err
	}
	d.log.Info("incident published", "id", id, "title", inc.Title)
	d.tell("opened", inc)
	return inc, nil
}

// Discard deletes a draft; public incidents stay in the history.
func (d *Desk) Discard(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	inc, err := d.Get(id)
	if err != nil {
		return err
	}
	if !inc.Draft {
		return ErrNotDraft
	}
	if _, err := d.store.DeleteIncident(ctx, id); err != nil {
		return err
	}
	d.log.Info("draft incident discarded", "id", id)
	return d.reload(ctx)
}

func (d *Desk) countOpen() int {
	n := 0
	for _, inc := range d.view.Load().all {
		if inc.Resolved.IsZero() {
			n++
		}
	}
	return n
}

// put stores inc and publishes the new list. Caller holds d.mu.
func (d *Desk) put(ctx context.Context, inc Incident) error {
	if err := d.store.PutIncident(ctx, inc); err != nil {
		return err
	}
	return d.reload(ctx)
}

func (d *Desk) reload(ctx context.Context) error {
	all, err := d.store.ListIncidents(ctx)
	if err != nil {
		return err
	}
	v := &deskView{all: all}
	if old := d.view.Load(); old != nil {
		v.version = old.version
	}
	v.version++
	d.view.Store(v)
	return nil
}

func (d *Desk) tell(kind string, inc Incident) {
	if d.events != nil {
		d.events(Event{Kind: kind, Incident: inc})
	}
}

func (d *Desk) checkFields(impact, status string) string {
	if !slices.Contains(Impacts, impact) {
		if impact == "" {
			return `missing "impact": one of ` + strings.Join(Impacts, ", ")
		}
		return `"impact" must be one of ` + strings.Join(Impacts, ", ")
	}
	if !slices.Contains(Phases, status) {
		return `"status" must be one of ` + strings.Join(Phases, ", ")
	}
	return ""
}

// parseAffected reads "service" and "service:node" names; bad says which
// one is unknown.
func (d *Desk) parseAffected(names []string) (out []store.Component, bad string) {
	for _, name := range names {
		if !d.components.Known(name) {
			return nil, "unknown component " + strconv.Quote(name) + `: name a service ("web") or a node ("web:api") of the config`
		}
		svc, node, _ := strings.Cut(name, ":")
		c := store.Component{Service: svc, Node: node}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, ""
}

func cleanIncident(title, text string) (string, string, string) {
	title = strings.TrimSpace(title)
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	switch {
	case title == "":
		return "", "", `missing "title"`
	case utf8.RuneCountInString(title) > MaxIncidentTitle:
		return "", "", `"title" is longer than ` + strconv.Itoa(MaxIncidentTitle) + ` characters`
	case strings.ContainsFunc(title, unicode.IsControl):
		return "", "", `"title" must be one line without control characters`
	}
	return title, text, checkText(text)
}

func checkText(text string) string {
	switch {
	case text == "":
		return `missing "text": what is known, what is done, what comes next`
	case utf8.RuneCountInString(text) > MaxUpdateText:
		return `"text" is longer than ` + strconv.Itoa(MaxUpdateText) + ` characters`
	case strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return `"text" must not contain control characters other than line breaks and tabs`
	}
	return ""
}

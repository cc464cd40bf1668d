// Package dynamic owns the targets added and removed over the manager API
// (PUT /manager/monitor?url=…): their records in the store, their nodes in
// the registry and their probes. A target is an http or https URL with
// any JSON value its owner keeps with it; it becomes a node of the
// [dynamic] service, probed, shown and alerted like the others.
package dynamic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// MaxData is the largest data a target may keep, in bytes.
const MaxData = 16 << 10

// Prober probes the targets (a *probe.Scheduler).
type Prober interface {
	AddTarget(id, label, rawURL string) error
	RemoveTarget(id string) bool
}

// Options configure Targets.
type Options struct {
	Config   *config.Dynamic // [dynamic]
	Store    store.Monitors
	Registry *status.Registry // built from the config: the dynamic service comes last
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil discards
}

// Targets is the one owner of the dynamic targets.
type Targets struct {
	cfg     *config.Dynamic
	st      store.Monitors
	reg     *status.Registry
	service int // the dynamic service's place in the registry
	now     func() time.Time
	log     *slog.Logger

	mu     sync.Mutex
	prober Prober // nil until Attach
	byURL  map[string]*store.Monitor
	order  []*store.Monitor // as added
}

// Invalid is a request that cannot be taken as it is; its text says why.
type Invalid struct{ Why string }

func (e *Invalid) Error() string { return e.Why }

// ErrFull is the answer when max_targets are there already.
var ErrFull = errors.New("dynamic: max_targets reached")

// New reads the targets kept in the store and adds their nodes to the
// registry; Attach then starts probing them.
func New(ctx context.Context, o Options) (*Targets, error) {
	t := &Targets{cfg: o.Config, st: o.Store, reg: o.Registry, now: o.Now, log: o.Logger, byURL: map[string]*store.Monitor{}}
	if t.now == nil {
		t.now = time.Now
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	snap := t.reg.Snapshot()
	t.service = len(snap.Services) - 1
	if t.service < 0 || snap.Services[t.service].ID != t.cfg.ServiceID {
		return nil, fmt.Errorf("dynamic: the registry has no service %q last; build it from Config.StatusSpecs()", t.cfg.ServiceID)
	}
	kept, err := t.st.ListMonitors(ctx)
	if err != nil {
		return nil, fmt.Errorf("dynamic: read the targets: %w", err)
	}
	for i := range kept {
		m := &kept[i]
		t.reg.AddNode(t.service, spec(m), t.now())
		t.byURL[m.URL] = m
		t.order = append(t.order, m)
	}
	return t, nil
}

// Attach starts probing every target with p, and the ones added later.
func (t *Targets) Attach(p Prober) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prober = p
	for _, m := range t.order {
		if err := p.AddTarget(m.Node, label(m.URL), m.URL); err != nil {
			return fmt.Errorf("dynamic: %s: %w", m.URL, err)
		}
	}
	return nil
}

// Monitor is a target as the API answers it.
type Monitor struct {
	URL       string          `json:"url"`
	Status    string          `json:"status"`           // healthy, sick or dead; "unchecked" before its first probe
	Reason    string          `json:"reason,omitempty"` // why it is not healthy, as the probe said
	LatencyMS *float64        `json:"latency_ms"`       // of the last probe; null before it
	Checked   *time.Time      `json:"checked"`          // when; null before the first
	Added     time.Time       `json:"added"`
	Data      json.RawMessage `json:"data"`
}

// Put adds the target of rawURL with data, or, when it is there already,
// replaces its data and keeps its probe and history. created says which.
func (t *Targets) Put(ctx context.Context, rawURL string, data []byte) (Monitor, bool, error) {
	if why := checkURL(rawURL); why != "" {
		return Monitor{}, false, &Invalid{Why: why}
	}
	if len(data) > MaxData {
		return Monitor{}, false, &Invalid{Why: fmt.Sprintf("data of %d bytes: at most %d", len(data), MaxData)}
	}
	if !json.Valid(data) {
		return Monitor{}, false, &Invalid{Why: "the body is not a JSON value"}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.byURL[rawURL]; ok {
		updated := *m
		updated.Data = data
		if err := t.st.PutMonitor(ctx, updated); err != nil {
			return Monitor{}, false, err
		}
		*m = updated
		return t.monitor(m, t.reg.Snapshot()), false, nil
	}
	if len(t.order) >= t.cfg.MaxTargets {
		return Monitor{}, false, ErrFull
	}
	m := &store.Monitor{URL: rawURL, Node: NodeID(rawURL), Data: data, Added: t.now().UTC().Truncate(time.Second)}
	if err := t.st.PutMonitor(ctx, *m); err != nil {
		return Monitor{}, false, err
	}
	t.reg.AddNode(t.service, spec(m), t.now())
	if t.prober != nil {
		if err := t.prober.AddTarget(m.Node, label(rawURL), rawURL); err != nil {
			// Nothing is kept of a target that cannot be probed.
			t.reg.RemoveNode(t.service, m.Node, t.now())
			if _, derr := t.st.DeleteMonitor(context.WithoutCancel(ctx), rawURL); derr != nil {
				t.log.Error("dynamic: a target that cannot be probed stays in the store", "url", rawURL, "err", derr)
			}
			return Monitor{}, false, &Invalid{Why: err.Error()}
		}
	}
	t.byURL[rawURL] = m
	t.order = append(t.order, m)
	t.log.Info("dynamic target added", "url", rawURL, "node", m.Node)
	return t.monitor(m, t.reg.Snapshot()), true, nil
}

// Get returns the target of rawURL.
func (t *Targets) Get(rawURL string) (Monitor, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.byURL[rawURL]
	if !ok {
		return Monitor{}, false
	}
	return t.monitor(m, t.reg.Snapshot()), true
}

// Delete stops probing the target of rawURL and forgets it; the answer is
// the target as it was, data included.
func (t *Targets) Delete(ctx context.Context, rawURL string) (Monitor, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.byURL[rawURL]
	if !ok {
		return Monitor{}, false, nil
	}
	out := t.monitor(m, t.reg.Snapshot())
	if _, err := t.st.DeleteMonitor(ctx, rawURL); err != nil {
		return Monitor{}, false, err
	}
	if t.prober != nil {
		t.prober.RemoveTarget(m.Node)
	}
	t.reg.RemoveNode(t.service, m.Node, t.now())
	delete(t.byURL, rawURL)
	for i, o := range t.order {
		if o == m {
			t.order = append(t.order[:i], t.order[i+1:]...)
			break
		}
	}
	t.log.Info("dynamic target removed", "url", rawURL, "node", m.Node)
	return out, true, nil
}

// List returns every target, in the order they were added.
func (t *Targets) List() []Monitor {
	t.mu.Lock()
	defer t.mu.Unlock()
	snap := t.reg.Snapshot()
	nodes := make(map[string]*status.Node, len(t.order))
	for _, n := range snap.Services[t.service].Nodes.All() {
		nodes[n.ID] = n
	}
	out := make([]Monitor, len(t.order))
	for i, m := range t.order {
		out[i] = monitorOf(m, nodes[m.Node])
	}
	return out
}

// Max is max_targets.
func (t *Targets) Max() int { return t.cfg.MaxTargets }

// Len is the number of targets.
func (t *Targets) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.order)
}

// monitor finds m's node in snap. t.mu is held.
func (t *Targets) monitor(m *store.Monitor, snap *status.Snapshot) Monitor {
	for _, n := range snap.Services[t.service].Nodes.All() {
		if n.ID == m.Node {
			return monitorOf(m, n)
		}
	}
	return monitorOf(m, nil)
}

func monitorOf(m *store.Monitor, n *status.Node) Monitor {
	out := Monitor{URL: m.URL, Status: "unchecked", Added: m.Added, Data: json.RawMessage(m.Data)}
	if n == nil || n.Replicas.Len() == 0 {
		return out
	}
	r := n.Replicas.At(0)
	if r.Checked.IsZero() {
		return out
	}
	out.Status = r.Status.String()
	if r.Status != status.Healthy {
		out.Reason = r.Error
	}
	ms := float64(r.Latency.Microseconds()) / 1000
	checked := r.Checked.UTC().Truncate(time.Second)
	out.LatencyMS, out.Checked = &ms, &checked
	return out
}

// spec is the registry node of a target: one replica, its URL (masked as
// the config's replicas are).
func spec(m *store.Monitor) status.NodeSpec {
	return status.NodeSpec{ID: m.Node, Label: label(m.URL), Mode: status.ModePoll, Replicas: []string{config.MaskPassword(m.URL)}}
}

// NodeID is the node id of the target of rawURL: stable across restarts,
// and made of the characters ids may hold.
func NodeID(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return "m-" + hex.EncodeToString(sum[:8])
}

// label names a target on the page by its URL's host and path.
func label(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	if u.Path == "" || u.Path == "/" {
		return u.Host
	}
	return u.Host + u.Path
}

// checkURL says what is wrong with a target's URL, or "".
func checkURL(rawURL string) string {
	switch {
	case rawURL == "":
		return "url: missing; write ?url= with the URL to probe, percent-encoded"
	case len(rawURL) > 2048:
		return "url: longer than 2048 bytes"
	case strings.ContainsFunc(rawURL, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "url: holds spaces or control characters"
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "url: " + err.Error()
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("url: scheme %q: only http and https URLs can be dynamic targets", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return "url: no host; write like https://example.com/health"
	case u.Fragment != "":
		return "url: a fragment (#…) is never sent; remove it"
	}
	return ""
}

package notice

import (
	"context"
	"crypto/rand"
	"log/slog"
	"slices"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// Drafter opens a draft incident when a node goes dead ([incidents]
// draft_on_dead): "Investigating: <node> is not responding", the node
// affected, the probe's reason as the first update. The draft stays
// private until an operator publishes it, or publish_after passes; the
// node recovering first discards it.
type Drafter struct {
	desk         *Desk
	reg          *status.Registry
	publishAfter time.Duration // 0: only an operator publishes
	log          *slog.Logger
}

// NewDrafter watches reg for the desk.
func NewDrafter(desk *Desk, reg *status.Registry, publishAfter time.Duration, log *slog.Logger) *Drafter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Drafter{desk: desk, reg: reg, publishAfter: publishAfter, log: log}
}

// Run watches the registry and publishes drafts that are due, until ctx
// ends.
func (dr *Drafter) Run(ctx context.Context) error {
	changes, unsubscribe := dr.reg.Subscribe()
	defer unsubscribe()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	dead := map[store.Component]bool{}
	dr.observe(ctx, dead, true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
			dr.observe(ctx, dead, false)
		case <-tick.C:
			dr.publishDue(ctx)
		}
	}
}

// observe compares each node's status with the last snapshot's. At start
// (first) a node already dead opens no draft: it went dead before.
func (dr *Drafter) observe(ctx context.Context, dead map[store.Component]bool, first bool) {
	snap := dr.reg.Snapshot()
	for _, svc := range snap.Services {
		for _, n := range svc.Nodes.All() {
			c := store.Component{Service: svc.ID, Node: n.ID}
			// A stale status from before a restart is not news.
			isDead := n.Status == status.Dead && n.Fresh
			switch {
			case isDead && !dead[c] && !first:
				dr.open(ctx, c, n)
			case !isDead && dead[c]:
				dr.recovered(ctx, c)
			}
			dead[c] = isDead
		}
	}
}

func (dr *Drafter) open(ctx context.Context, c store.Component, n *status.Node) {
	d := dr.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, inc := range d.view.Load().all {
		if inc.Resolved.IsZero() && slices.Contains(inc.Affected, c) {
			return // already told, or being told
		}
	}
	reason := status.Reason(n)
	if reason == "" {
		reason = "The checks of " + n.Label + " fail."
	}
	now := d.now()
	inc := Incident{ID: rand.Text(), Title: "Investigating: " + n.Label + " is not responding", Impact: "major",
		Affected: []store.Component{c}, Status: "investigating", Draft: true, Source: "alert", Created: now,
		Updates: []Update{{At: now, Status: "investigating", Text: reason}}}
	if dr.publishAfter > 0 {
		inc.PublishAt = now.Add(dr.publishAfter)
	}
	if err := d.put(ctx, inc); err != nil {
		dr.log.Error("draft incident not kept", "node", c.Service+":"+c.Node, "err", err)
		return
	}
	dr.log.Info("draft incident opened", "id", inc.ID, "node", c.Service+":"+c.Node, "publish_at", inc.PublishAt)
}

// recovered discards the node's drafts from alerts.
func (dr *Drafter) recovered(ctx context.Context, c store.Component) {
	for _, inc := range dr.desk.view.Load().all {
		if inc.Draft && inc.Source == "alert" && slices.Equal(inc.Affected, []store.Component{c}) {
			if err := dr.desk.Discard(ctx, inc.ID); err != nil {
				dr.log.Error("draft incident not discarded", "id", inc.ID, "err", err)
			}
		}
	}
}

func (dr *Drafter) publishDue(ctx context.Context) {
	now := dr.desk.now()
	for _, inc := range dr.desk.view.Load().all {
		if inc.Draft && !inc.PublishAt.IsZero() && !now.Before(inc.PublishAt) {
			if _, err := dr.desk.Publish(ctx, inc.ID); err != nil {
				dr.log.Error("draft incident not published", "id", inc.ID, "err", err)
			}
		}
	}
}

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/sqlite"
	"github.com/overvakt/overvakt/res"
)

// fillHistory writes 90 days of made-up history for the replicas of bc
// into the SQLite file at path, as a server probing them every interval
// for 90 days would have left it: every result of the last 48 hours (the
// default raw_retention), hourly and daily rollups of every replica, node
// and service for 90 days, and the status changes of a few short outages.
// Most hours are healthy; about one hour in 500 has some sick or dead time.
func fillHistory(ctx context.Context, path string, bc benchConfig, now time.Time) error {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	type node struct {
		c        store.Component
		replicas []string
	}
	var nodes []node
	next := 0
	for s := range bc.Services {
		for n := range bc.Nodes {
			nd := node{c: store.Component{Service: fmt.Sprintf("svc-%04d", s+1), Node: fmt.Sprintf("node-%02d", n+1)}}
			nd.replicas = bc.HTTPURLs[next : next+bc.ReplicasPerNode]
			next += bc.ReplicasPerNode
			nodes = append(nodes, nd)
		}
	}
	const days = 90
	start := now.Add(-days * 24 * time.Hour).Truncate(time.Hour)
	run, err := st.StartRun(ctx, start)
	if err != nil {
		return err
	}

	// Rollups, hour by hour, older than the raw results.
	interval := time.Duration(bc.Interval * float64(time.Second))
	perHour := int64(time.Hour / interval)
	rawFrom := now.Add(-48 * time.Hour).Truncate(time.Hour)
	began := time.Now()
	var batch []store.Rollup
	flush := func() error {
		err := st.PutRollups(ctx, batch)
		batch = batch[:0]
		return err
	}
	dayOf := map[store.Component]map[int64]*store.Rollup{}
	addDay := func(r store.Rollup) {
		key := r.Of
		if r.Replica != "" {
			key.Node += "\x00" + r.Replica
		}
		m := dayOf[key]
		if m == nil {
			m = map[int64]*store.Rollup{}
			dayOf[key] = m
		}
		d := r.Start.Truncate(24 * time.Hour)
		acc := m[d.UnixMilli()]
		if acc == nil {
			acc = &store.Rollup{Level: store.Daily, Of: r.Of, Replica: r.Replica, Start: d}
			m[d.UnixMilli()] = acc
		}
		acc.Healthy += r.Healthy
		acc.Sick += r.Sick
		acc.Dead += r.Dead
		acc.LatencySum += r.LatencySum
		acc.LatencyCount += r.LatencyCount
		acc.LatencyMax = max(acc.LatencyMax, r.LatencyMax)
		acc.LatencyP95 = max(acc.LatencyP95, r.LatencyP95)
	}
	var changes []store.Change
	for h := start; h.Before(now.Truncate(time.Hour)); h = h.Add(time.Hour) {
		for _, n := range nodes {
			nodeRoll := store.Rollup{Level: store.Hourly, Of: n.c, Start: h}
			for _, rep := range n.replicas {
				r := store.Rollup{Level: store.Hourly, Of: n.c, Replica: rep, Start: h, Healthy: time.Hour,
					LatencyCount: perHour}
				mean := time.Duration(10+rng.IntN(80)) * time.Millisecond
				r.LatencySum = mean * time.Duration(perHour)
				r.LatencyMax = mean * 3
				r.LatencyP95 = mean * 2
				if rng.IntN(500) == 0 {
					bad := time.Duration(1+rng.IntN(30)) * time.Minute
					r.Healthy -= bad
					if rng.IntN(2) == 0 {
						r.Dead = bad
						changes = append(changes, store.Change{Of: n.c, At: h.Add(10 * time.Minute), Status: status.Dead,
							Reason: "HEAD " + rep + ": status 503 (want 200..399)"},
							store.Change{Of: n.c, At: h.Add(10*time.Minute + bad), Status: status.Healthy})
					} else {
						r.Sick = bad
					}
				}
				nodeRoll.Healthy = time.Hour - max(nodeRoll.Sick+nodeRoll.Dead, r.Sick+r.Dead)
				nodeRoll.Sick = max(nodeRoll.Sick, r.Sick)
				nodeRoll.Dead = max(nodeRoll.Dead, r.Dead)
				nodeRoll.LatencySum += r.LatencySum
				nodeRoll.LatencyCount += r.LatencyCount
				nodeRoll.LatencyMax = max(nodeRoll.LatencyMax, r.LatencyMax)
				nodeRoll.LatencyP95 = max(nodeRoll.LatencyP95, r.LatencyP95)
				batch = append(batch, r)
				addDay(r)
			}
			batch = append(batch, nodeRoll)
			addDay(nodeRoll)
			if len(batch) >= 20000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		for s := range bc.Services {
			svc := store.Rollup{Level: store.Hourly, Of: store.Component{Service: fmt.Sprintf("svc-%04d", s+1)}, Start: h, Healthy: time.Hour}
			batch = append(batch, svc)
			addDay(svc)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, m := range dayOf {
		for _, d := range m {
			d.NoData = 24*time.Hour - d.Healthy - d.Sick - d.Dead
			batch = append(batch, *d)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	slog.Info("history: rollups written", "took", time.Since(began).Round(time.Second))

	// Every result of the last 48 hours, with the changes.
	began = time.Now()
	for _, n := range nodes {
		changes = append(changes, store.Change{Of: n.c, At: start, Status: status.Healthy})
	}
	for s := range bc.Services {
		changes = append(changes, store.Change{Of: store.Component{Service: fmt.Sprintf("svc-%04d", s+1)}, At: start, Status: status.Healthy})
	}
	if err := st.Write(ctx, &store.Batch{Run: run, At: start, Changes: changes}); err != nil {
		return err
	}
	var b store.Batch
	written := 0
	for t := rawFrom; t.Before(now); t = t.Add(interval) {
		for i, n := range nodes {
			for j, rep := range n.replicas {
				at := t.Add(time.Duration(i*len(n.replicas)+j) * interval / time.Duration(len(nodes)*len(n.replicas)))
				b.Results = append(b.Results, store.Result{Key: store.ReplicaKey{Service: n.c.Service, Node: n.c.Node, Replica: rep},
					At: at, Status: status.Healthy, Latency: time.Duration(10+rng.IntN(80)) * time.Millisecond})
			}
		}
		if len(b.Results) >= 20000 {
			b.Run, b.At = run, t
			if err := st.Write(ctx, &b); err != nil {
				return err
			}
			written += len(b.Results)
			b = store.Batch{}
		}
	}
	b.Run, b.At = run, now
	if err := st.Write(ctx, &b); err != nil {
		return err
	}
	written += len(b.Results)
	if err := st.StopRun(ctx, run, now); err != nil {
		return err
	}
	slog.Info("history: raw results written", "results", written, "took", time.Since(began).Round(time.Second))

	// The rollup job takes it from here.
	ru := history.NewRollups(st, config.Default().Storage, func() []*status.Service { return nil }, nil)
	ru.SetClock(func() time.Time { return now }, time.UTC)
	return ru.SetProgress(ctx, now.Truncate(time.Hour), now.Truncate(24*time.Hour))
}

// coldRender is what rendering the page with its history costs when
// nothing is cached: the history view read from the store, then the page.
type coldRender struct {
	view, render, median time.Duration
	runs, nodes          int
	bytes, gzipped       int
}

// measureColdRender opens the filled store as the server would, builds
// the page's history view from it and renders the page with it, for the
// services, nodes and branding of the config the server is given, all
// healthy.
func measureColdRender(ctx context.Context, path string, bc benchConfig) (coldRender, error) {
	var c coldRender
	text, err := generateConfig(bc)
	if err != nil {
		return c, err
	}
	cfg, err := config.Parse("bench.toml", text, nil, kinds.All().Config())
	if err != nil {
		return c, err
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return c, err
	}
	defer st.Close()
	now := time.Now()
	reg := status.NewRegistry(cfg.StatusSpecs(), now)
	for _, svc := range reg.Snapshot().Services {
		c.nodes += svc.Nodes.Len()
	}
	tree := func() []*status.Service { return reg.Snapshot().Services }
	reader := history.NewReader(st, history.NewRollups(st, cfg.Storage, tree, nil), tree, nil)
	began := time.Now()
	view, err := reader.Build(ctx, now)
	if err != nil {
		return c, err
	}
	c.view = time.Since(began)

	r, err := page.New(cfg.Branding, page.Overlay(nil, res.FS()))
	if err != nil {
		return c, err
	}
	var took []time.Duration
	var buf, zbuf bytes.Buffer
	for range 20 {
		buf.Reset()
		zbuf.Reset()
		began := time.Now()
		if err := r.Render(&buf, page.View{Snapshot: reg.Snapshot(), Now: now, Version: 1, History: view}); err != nil {
			return c, err
		}
		zw, _ := gzip.NewWriterLevel(&zbuf, gzip.BestCompression) // as the server does
		zw.Write(buf.Bytes())
		zw.Close()
		took = append(took, time.Since(began))
	}
	c.render, c.runs, c.bytes, c.gzipped = took[0], len(took), buf.Len(), zbuf.Len()
	slices.Sort(took)
	c.median = took[len(took)/2]
	return c, nil
}

package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// liveGoal: every client has a status change within a second (p99).
var liveGoal = below(1000)

// liveClient is one connection to /live, held as a browser tab holds it.
// Its reader goroutine owns arrivals and fetched until it ends.
type liveClient struct {
	conn     *websocket.Conn
	arrivals []time.Time // when each status event came
	fetched  []time.Time // when the page fetched after each came back
}

// livePhase connects sc.LiveClients clients to /live and measures the
// server with them: what connecting costs, its CPU and memory while they
// are connected and idle, and how long a status change takes to reach
// each of them. A change is a push report that turns a host sick, or
// healthy again: the registry changes before the report is answered, so
// the time from sending it to each client's event is the feed's whole
// latency, HTTP request included. Then the same again with every client
// fetching the page after each event, as the page's script does.
func livePhase(ctx context.Context, r *rows, srv *server, bc benchConfig, sc scenario) {
	n := sc.LiveClients
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+bc.ReporterToken))
	report := func(cpu float64) []byte {
		return buildRequest("POST", srv.addr, "/reporter/"+pushService+"/"+pushNode+"/",
			map[string]string{"Authorization": auth, "Content-Type": "application/json"},
			fmt.Appendf(nil, `{"replica":"live-host","interval":600,"load":{"cpu":%g,"ram":0.5}}`, cpu))
	}
	sick, healthy := report(0.99), report(0.1)
	// The host appears before the clients connect: the changes measured
	// are status changes alone.
	if code, err := oneRequest(ctx, srv.addr, healthy); err != nil || code != 200 {
		r.na("live clients", "", nil, fmt.Sprintf("first push report: %d %v", code, err))
		return
	}
	// The server as it is without clients, for comparison.
	w := startCPUWindow(srv.pid())
	sleepCtx(ctx, 10*time.Second)
	before, err := w.stop()
	if err != nil {
		r.na("live clients", "", nil, err.Error())
		return
	}
	r.add("server CPU, no live client", before.Server, "% of a core", nil,
		fmt.Sprintf("10 s, while probing %d replicas every %s s; %s", bc.Services*bc.Nodes*bc.ReplicasPerNode, secs(bc.Interval), before))
	base := before.End

	// Connect them all, 32 at a time; each reads its snapshot.
	slog.Info("connecting live clients", "clients", n)
	var received, fetched atomic.Int64
	var fetching atomic.Bool
	page := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * n, MaxIdleConnsPerHost: 2 * n}, Timeout: 10 * time.Second}
	defer page.CloseIdleConnections()
	clients := make([]*liveClient, n)
	cctx, stop := context.WithCancel(ctx)
	var readers sync.WaitGroup
	defer func() {
		stop()
		for _, c := range clients {
			if c != nil {
				_ = c.conn.CloseNow()
			}
		}
		readers.Wait()
	}()
	start := time.Now()
	sem := make(chan struct{}, 32)
	var failed atomic.Int64
	var firstErr atomic.Value
	var dialing sync.WaitGroup
	for i := range clients {
		sem <- struct{}{}
		dialing.Go(func() {
			defer func() { <-sem }()
			c, err := dialLive(cctx, srv.addr)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			clients[i] = c
		})
	}
	dialing.Wait()
	connected := time.Since(start)
	if f := failed.Load(); f > 0 {
		r.na("live clients connected", "", nil, fmt.Sprintf("%d of %d failed; first: %v", f, n, firstErr.Load()))
		return
	}
	r.seconds(fmt.Sprintf("%d live clients connect, each gets its snapshot", n), connected, nil, "32 dialing at a time")
	for _, c := range clients {
		readers.Go(func() { c.read(cctx, srv.addr, page, &received, &fetched, &fetching) })
	}

	// Connected and idle.
	w = startCPUWindow(srv.pid())
	sleepCtx(ctx, 10*time.Second)
	idle, err := w.stop()
	if err == nil {
		r.add(fmt.Sprintf("server CPU, %d live clients connected and idle", n), idle.Server, "% of a core", nil,
			fmt.Sprintf("10 s, while probing %d replicas every %s s; %s", bc.Services*bc.Nodes*bc.ReplicasPerNode, secs(bc.Interval), idle))
		r.megabytes(fmt.Sprintf("server RSS, %d live clients connected", n), idle.End.RSS, nil,
			fmt.Sprintf("%.1f MB before they connected: %.0f KB a client; %d threads", float64(base.RSS)/(1<<20),
				float64(idle.End.RSS-base.RSS)/1024/float64(n), idle.End.Threads))
	}

	// Status changes, one at a time: each once every client has the last.
	changes := func(k int, counter *atomic.Int64, what string) (sent []time.Time, late int, cpu cpuShares) {
		w := startCPUWindow(srv.pid())
		for i := range k {
			req := sick
			if i%2 == 1 {
				req = healthy
			}
			sent = append(sent, time.Now())
			if code, err := oneRequest(ctx, srv.addr, req); err != nil || code != 200 {
				slog.Warn("push report failed", "code", code, "err", err)
			}
			want := int64(n * (i + 1))
			deadline := time.Now().Add(5 * time.Second)
			for counter.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			if counter.Load() < want {
				late++
				slog.Warn("not every client got the change within 5 s", "phase", what, "change", i+1, "got", counter.Load()-int64(n*i))
				counter.Store(want)
			}
			// At no fixed distance from the last: the feed looks at the
			// registry at most every 100 ms, and a fixed pace would always
			// meet that at the same point.
			sleepCtx(ctx, 200*time.Millisecond+rand.N(100*time.Millisecond))
		}
		cpu, _ = w.stop()
		return sent, late, cpu
	}
	const k = 20
	sent, late, cpu := changes(k, &received, "events")
	lat, missed := liveLatencies(sent, func(c *liveClient) []time.Time { return c.arrivals }, clients)
	s := summarize(lat)
	r.millis(fmt.Sprintf("status change → each of %d live clients, p99", n), s.P99, liveGoal,
		fmt.Sprintf("%d changes × %d clients: p50 %.1f ms, max %.1f ms, %d missed; push report sent → event read; %.2f ms server CPU a change; %s",
			k, n, ms(s.P50), ms(s.Max), missed, 1000*cpu.ServerCPU.Seconds()/k, cpu))
	if late > 0 {
		r.add("changes some client never got within 5 s", float64(late), "", nil, "see the log")
	}

	// Again, each client fetching the page after each event.
	fetching.Store(true)
	const kf = 10
	sent, late, cpu = changes(kf, &fetched, "page fetches")
	lat, missed = liveLatencies(sent, func(c *liveClient) []time.Time { return c.fetched }, clients)
	s = summarize(lat)
	r.millis(fmt.Sprintf("status change → each of %d clients has fetched the new page, p99", n), s.P99, liveGoal,
		fmt.Sprintf("%d changes × %d clients, GET / (gzip) on each event as page.js does: p50 %.1f ms, max %.1f ms, %d missed; %.1f ms server CPU a change; %s",
			kf, n, ms(s.P50), ms(s.Max), missed, 1000*cpu.ServerCPU.Seconds()/kf, cpu))
	if late > 0 {
		r.add("changes some client's page never showed within 5 s", float64(late), "", nil, "see the log")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// dialLive opens /live and reads the snapshot.
func dialLive(ctx context.Context, addr string) (*liveClient, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, "ws://"+addr+"/live", nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(-1)
	_, msg, err := conn.Read(dctx)
	if err == nil && !strings.HasPrefix(string(msg), `{"type":"snapshot"`) {
		err = fmt.Errorf("first message is not the snapshot: %.80s", msg)
	}
	if err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	return &liveClient{conn: conn}, nil
}

// read takes the client's messages until ctx ends, stamping each status
// event, and, while fetching is set, fetching the page after it.
func (c *liveClient) read(ctx context.Context, addr string, page *http.Client, received, fetched *atomic.Int64, fetching *atomic.Bool) {
	for {
		_, msg, err := c.conn.Read(ctx)
		if err != nil {
			return
		}
		if !strings.HasPrefix(string(msg), `{"type":"status"`) {
			continue
		}
		c.arrivals = append(c.arrivals, time.Now())
		received.Add(1)
		if !fetching.Load() {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		if err != nil {
			return
		}
		resp, err := page.Do(req)
		if err != nil {
			slog.Warn("page fetch failed", "err", err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.fetched = append(c.fetched, time.Now())
		fetched.Add(1)
	}
}

// liveLatencies pairs the k-th time of each client (times picks which)
// with the k-th change sent: how long each took to reach each client, and
// how many a client never had.
func liveLatencies(sent []time.Time, times func(*liveClient) []time.Time, clients []*liveClient) (lat []time.Duration, missed int) {
	for _, c := range clients {
		got := times(c)
		for k, at := range sent {
			if k >= len(got) {
				missed++
				continue
			}
			lat = append(lat, got[k].Sub(at))
		}
	}
	slices.Sort(lat)
	return lat, missed
}

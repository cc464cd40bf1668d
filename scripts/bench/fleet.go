package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fleetSpec says how many fake targets to run and how they answer.
type fleetSpec struct {
	HTTPReplicas  int           // each gets its own path /r/{index}
	HTTPListeners int           // HTTP replicas are spread round-robin over these ports
	TCPReplicas   int           // each gets its own port (a connect is the probe)
	Slots         int           // arrival times kept per replica
	Latency       time.Duration // added before every HTTP answer
	Body          []byte        // sent to GET/POST probes
}

// fleet is a crowd of fake targets in this process. Every probe that reaches
// a target is stamped into a preallocated table (atomics, no locks), so even
// 50,000 replicas cost the fleet little next to the server it measures.
type fleet struct {
	spec  fleetSpec
	epoch time.Time

	urls    []string // replica index → URL the config uses
	status  []atomic.Int32
	counts  []atomic.Int32
	stamps  []atomic.Int64 // replica*Slots + n → ns since epoch (+1, 0 = empty)
	probes  atomic.Int64   // all probes
	tcp     atomic.Int64   // of which TCP connects
	failAt  atomic.Int64   // ns since epoch of the first failing answer (+1)
	srv     *http.Server
	lns     []net.Listener
	tcpLns  []net.Listener
	serving sync.WaitGroup
}

const replicaPathPrefix = "/r/"

// startFleet opens every listener on 127.0.0.1 and starts serving; stop with
// close.
func startFleet(spec fleetSpec) (*fleet, error) {
	if spec.HTTPReplicas > 0 && spec.HTTPListeners < 1 {
		return nil, errors.New("fleet: HTTPListeners must be at least 1 when there are HTTP replicas")
	}
	if spec.Slots < 2 {
		spec.Slots = 2
	}
	n := spec.HTTPReplicas + spec.TCPReplicas
	f := &fleet{
		spec:   spec,
		epoch:  time.Now(),
		urls:   make([]string, n),
		status: make([]atomic.Int32, n),
		counts: make([]atomic.Int32, n),
		stamps: make([]atomic.Int64, n*spec.Slots),
	}
	for i := range f.status {
		f.status[i].Store(http.StatusOK)
	}
	f.srv = &http.Server{
		Handler:           f,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       75 * time.Second, // nginx's keepalive_timeout
		ErrorLog:          discardLogger(),
	}
	listeners := min(spec.HTTPListeners, spec.HTTPReplicas)
	for range listeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.close()
			return nil, fmt.Errorf("fleet: open HTTP listener %d of %d: %w (raise the open-files limit?)", len(f.lns)+1, listeners, err)
		}
		f.lns = append(f.lns, ln)
	}
	for i := range spec.HTTPReplicas {
		f.urls[i] = "http://" + f.lns[i%len(f.lns)].Addr().String() + replicaPathPrefix + strconv.Itoa(i)
	}
	for j := range spec.TCPReplicas {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.close()
			return nil, fmt.Errorf("fleet: open TCP listener %d of %d: %w", j+1, spec.TCPReplicas, err)
		}
		f.tcpLns = append(f.tcpLns, ln)
		f.urls[spec.HTTPReplicas+j] = "tcp://" + ln.Addr().String()
	}
	for _, ln := range f.lns {
		f.serving.Add(1)
		go func() {
			defer f.serving.Done()
			_ = f.srv.Serve(ln)
		}()
	}
	for j, ln := range f.tcpLns {
		f.serving.Add(1)
		go func() {
			defer f.serving.Done()
			f.acceptTCP(ln, spec.HTTPReplicas+j)
		}()
	}
	return f, nil
}

// close stops every listener and connection and waits for the goroutines.
func (f *fleet) close() {
	if f.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = f.srv.Shutdown(ctx)
		cancel()
		_ = f.srv.Close()
	}
	for _, ln := range f.lns {
		_ = ln.Close()
	}
	for _, ln := range f.tcpLns {
		_ = ln.Close()
	}
	f.serving.Wait()
}

func (f *fleet) size() int { return len(f.urls) }

func (f *fleet) now() int64 { return int64(time.Since(f.epoch)) + 1 }

// record stamps one probe of replica i.
func (f *fleet) record(i int) {
	f.probes.Add(1)
	n := int(f.counts[i].Add(1)) - 1
	if n < f.spec.Slots {
		f.stamps[i*f.spec.Slots+n].Store(f.now())
	}
}

func (f *fleet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, ok := parseReplicaPath(r.URL.Path, f.spec.HTTPReplicas)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f.record(i)
	if f.spec.Latency > 0 {
		t := time.NewTimer(f.spec.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	code := int(f.status[i].Load())
	if code >= 400 {
		f.failAt.CompareAndSwap(0, f.now())
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(f.spec.Body))}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.spec.Body)
	}
}

// parseReplicaPath reads the replica index out of "/r/{index}".
func parseReplicaPath(p string, n int) (int, bool) {
	s, ok := strings.CutPrefix(p, replicaPathPrefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(strings.TrimSuffix(s, "/"))
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// acceptTCP stamps every connection to a TCP replica and hangs up.
func (f *fleet) acceptTCP(ln net.Listener, replica int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(time.Millisecond) // e.g. EMFILE: back off instead of spinning
			continue
		}
		f.tcp.Add(1)
		f.record(replica)
		_ = c.Close()
	}
}

// setStatus makes replica i answer with code from now on.
func (f *fleet) setStatus(i, code int) { f.status[i].Store(int32(code)) }

// firstFailure returns when the fleet first answered with an error code, or
// the zero time.
func (f *fleet) firstFailure() time.Time {
	v := f.failAt.Load()
	if v == 0 {
		return time.Time{}
	}
	return f.epoch.Add(time.Duration(v - 1))
}

// probed counts replicas probed at least once, and returns the time of the
// latest first probe among them.
func (f *fleet) probed() (n int, last time.Time) {
	var lastNS int64
	for i := range f.counts {
		if f.counts[i].Load() == 0 {
			continue
		}
		n++
		if v := f.stamps[i*f.spec.Slots].Load(); v > lastNS {
			lastNS = v
		}
	}
	if lastNS == 0 {
		return n, time.Time{}
	}
	return n, f.epoch.Add(time.Duration(lastNS - 1))
}

// arrivals returns the stamped probe times of replica i in order.
func (f *fleet) arrivals(i int) []time.Time {
	n := min(int(f.counts[i].Load()), f.spec.Slots)
	out := make([]time.Time, 0, n)
	for k := range n {
		if v := f.stamps[i*f.spec.Slots+k].Load(); v != 0 {
			out = append(out, f.epoch.Add(time.Duration(v-1)))
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Before(out[b]) })
	return out
}

// schedule is the timing of the probes against the poll interval.
type schedule struct {
	FirstGap  spread // |gap 1 − interval|: first sweep → steady state
	Steady    spread // |gap − interval| for later gaps that end inside the window
	Truncated int    // replicas whose slots filled before the window closed
	Missing   int    // replicas with fewer than two probes in total
}

// scheduleOf measures, for every replica, the gaps between consecutive
// probes. The first gap of each replica is reported apart (the scheduler
// may place the steady-state phase differently from the first sweep);
// later gaps count when they end in [from, to].
func scheduleOf(arrivals func(i int) []time.Time, n int, interval time.Duration, from, to time.Time, slots int) schedule {
	var first, steady []time.Duration
	var s schedule
	for i := range n {
		a := arrivals(i)
		if len(a) < 2 {
			s.Missing++
			continue
		}
		if len(a) >= slots && !a[len(a)-1].After(to) {
			s.Truncated++
		}
		first = append(first, absDur(a[1].Sub(a[0])-interval))
		for k := 2; k < len(a); k++ {
			if a[k].Before(from) || a[k].After(to) {
				continue
			}
			steady = append(steady, absDur(a[k].Sub(a[k-1])-interval))
		}
	}
	s.FirstGap, s.Steady = summarize(first), summarize(steady)
	return s
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// dumpArrivals writes one CSV line per replica: index, URL, then every
// stamped probe in ms relative to zero (negative: before it).
func dumpArrivals(f *fleet, path string, zero time.Time) error {
	var b strings.Builder
	b.WriteString("replica,url,arrivals_ms...\n")
	for i, u := range f.urls {
		b.WriteString(strconv.Itoa(i) + "," + u)
		for _, a := range f.arrivals(i) {
			b.WriteString("," + strconv.FormatFloat(float64(a.Sub(zero))/1e6, 'f', 1, 64))
		}
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

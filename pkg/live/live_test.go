package live

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// counts returns the connections open in total and from ip.
func (s *slots) counts(ip string) (open, fromIP int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.byIP[ip]
}

// anyComponent knows every service and node.
type anyComponent struct{}

func (anyComponent) Known(string) bool { return true }

// serve runs a hub with o on a loopback server until the test ends; wrap,
// when set, wraps the server's listener.
func serve(t *testing.T, o Options, wrap func(net.Listener) net.Listener) (*Hub, string) {
	t.Helper()
	h := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.Run(ctx)
		close(done)
	}()
	srv := httptest.NewUnstartedServer(h)
	if wrap != nil {
		srv.Listener = wrap(srv.Listener)
	}
	srv.Start()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return h, "ws" + strings.TrimPrefix(srv.URL, "http") + "/live"
}

// dialer connects from a loopback address of its own (127.0.0.2, …),
// with a small receive buffer when rcvbuf is set.
func dialer(from string, rcvbuf int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil && rcvbuf > 0 {
			err = c.(*net.TCPConn).SetReadBuffer(rcvbuf)
		}
		return c, err
	}}}
}

func dial(t *testing.T, url string, o *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, o)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.SetReadLimit(-1) // snapshots of big nodes are big
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// next reads the next message, failing the test after 5 s.
func next(t *testing.T, c *websocket.Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func typeOf(t *testing.T, msg []byte) string {
	t.Helper()
	var m struct{ Type string }
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	return m.Type
}

// until waits up to 5 s for cond.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 5 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFeed: every client gets the snapshot, then each change as it
// happens: a status, an announcement, an incident made public; a draft
// incident is not told.
func TestFeed(t *testing.T) {
	reg := checked()
	ctx := t.Context()
	board, err := notice.NewBoard(ctx, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A draft opened from an alert waits in the store: not public yet.
	incidents := memory.New()
	draft := store.Incident{ID: "draft-1", Title: "API down", Impact: "major", Status: "investigating", Draft: true,
		Source: "alert", Created: at(1), Updates: []store.IncidentUpdate{{At: at(1), Status: "investigating", Text: "Alerted."}}}
	if err := incidents.PutIncident(ctx, draft); err != nil {
		t.Fatal(err)
	}
	desk, err := notice.NewDesk(ctx, notice.DeskOptions{Store: incidents, Components: anyComponent{}})
	if err != nil {
		t.Fatal(err)
	}
	_, url := serve(t, Options{Status: reg, Announcements: board.Announcements, Gap: time.Millisecond, PollEvery: 10 * time.Millisecond,
		Incidents: func() ([]store.Incident, uint64) {
			open, _ := desk.Public()
			_, v := desk.Incidents()
			return open, v
		}}, nil)
	clients := []*websocket.Conn{dial(t, url, nil), dial(t, url, nil)}
	for _, c := range clients {
		if got := next(t, c); typeOf(t, got) != "snapshot" || !strings.Contains(string(got), `"page":{"status":"healthy"}`) ||
			!strings.HasSuffix(string(got), `"incidents":[]}`) {
			t.Fatalf("first message %s; want the snapshot of a healthy page without the draft", got)
		}
	}

	reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Dead, Err: "refused", At: at(1)})
	for _, c := range clients {
		sameJSON(t, next(t, c), `{"type":"status","page":{"status":"dead","since":"2026-12-02T09:00:01Z"},
			"services":[{"id":"web","status":"dead"}],
			"nodes":[{"service":"web","id":"api","status":"dead","since":"2026-12-02T09:00:01Z","replicas":2}],
			"replicas":[{"service":"web","node":"api","index":2,"name":"replica 2","status":"dead"}]}`)
	}

	a, err := board.Publish(ctx, "Database maintenance", "Tonight 22:00-23:00 UTC.")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		sameJSON(t, next(t, c), `{"type":"announcement","announcements":[{"id":"`+a.ID+`","title":"Database maintenance",
			"text":"Tonight 22:00-23:00 UTC.","published":"`+rfc3339(a.Published)+`"}]}`)
	}

	if _, err := desk.Publish(ctx, draft.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		got := next(t, c)
		if typeOf(t, got) != "incident" || !strings.Contains(string(got), `"id":"draft-1","title":"API down","impact":"major"`) {
			t.Errorf("got %s; want the published incident", got)
		}
	}
}

// TestSlowReaderIsDropped: a client that never reads is dropped once its
// queue is full, while the others get every message and the registry's
// writers never wait.
func TestSlowReaderIsDropped(t *testing.T) {
	reg := bigRegistry(2_000, true) // every change of the whole node is a message of ~150 KB
	smallBuffers := func(ln net.Listener) net.Listener { return smallSendBuffer{ln} }
	h, url := serve(t, Options{Status: reg, Gap: 20 * time.Millisecond, Queue: 4}, smallBuffers)
	stuck := dial(t, url, &websocket.DialOptions{HTTPClient: dialer("127.0.0.2", 4096)})
	good := dial(t, url, nil)
	next(t, good) // the snapshot

	const rounds = 12
	for round := range rounds {
		st := status.Status((round + 1) % 2 * 2) // dead, healthy, dead, …
		start := time.Now()
		for i := range 2_000 {
			reg.Set(status.Ref{Replica: i}, status.Result{Status: st, At: at(round + 1)})
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("2,000 results took %v: the registry's writers waited", took)
		}
		want := `"status":"` + st.String() + `"}]}`
		for got := next(t, good); !strings.HasSuffix(string(got), want); got = next(t, good) {
		}
	}
	until(t, "dropped", func() bool { _, n := h.slots.counts("127.0.0.2"); return n == 0 })

	// What the stuck client finds when it reads at last: what fit in
	// the buffers, then the end.
	read := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := stuck.Read(ctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("the stuck client's connection is still open")
			}
			break
		}
		read++
	}
	if read >= 1+rounds {
		t.Errorf("the stuck client read %d messages: it was not dropped", read)
	}
	if open, _ := h.slots.counts(""); open != 1 {
		t.Errorf("%d connections open; want the good one alone", open)
	}
}

// smallSendBuffer makes the server's side of connections from 127.0.0.2
// buffer little, so that a client there that does not read fills it soon.
type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil && c.RemoteAddr().(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 2)) {
		err = c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

// TestCaps: connections over the cap in total or from one client are
// answered 503 before the upgrade; a connection that ends gives its slot
// back.
func TestCaps(t *testing.T) {
	tests := []struct {
		name         string
		total, perIP int
		from         []string // a connection from each, in order
		want         []int    // their answers
	}{
		{"per client", 10, 2, []string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3"}, []int{101, 101, 503, 101}},
		{"in total", 3, 0, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}, []int{101, 101, 101, 503}},
		{"both", 3, 2, []string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.4"}, []int{101, 101, 503, 101, 503}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, url := serve(t, Options{Status: checked(), MaxConns: tc.total, MaxConnsPerIP: tc.perIP}, nil)
			var open []*websocket.Conn
			for i, from := range tc.from {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: dialer(from, 0)})
				cancel()
				if resp == nil {
					t.Fatalf("connection %d from %s: %v", i+1, from, err)
				}
				if resp.StatusCode != tc.want[i] {
					t.Errorf("connection %d from %s: %d, want %d", i+1, from, resp.StatusCode, tc.want[i])
				}
				if c != nil {
					next(t, c)
					open = append(open, c)
					t.Cleanup(func() { _ = c.CloseNow() })
				} else if resp.Header.Get("Retry-After") == "" {
					t.Errorf("connection %d from %s: %d without Retry-After", i+1, from, resp.StatusCode)
				}
			}
			// The first one leaves: one more from its address is let in.
			_ = open[0].Close(websocket.StatusNormalClosure, "")
			until(t, "given back", func() bool { n, _ := h.slots.counts(""); return n == len(open)-1 })
			c := dial(t, url, &websocket.DialOptions{HTTPClient: dialer(tc.from[0], 0)})
			if typeOf(t, next(t, c)) != "snapshot" {
				t.Error("the client let in after one left got no snapshot")
			}
		})
	}
}

// TestPings: an idle connection is pinged, and stays open while the peer
// answers; a peer that does not answer is dropped.
func TestPings(t *testing.T) {
	h, url := serve(t, Options{Status: checked(), PingEvery: 20 * time.Millisecond, WriteTimeout: 100 * time.Millisecond}, nil)
	var pings atomic.Int32
	alive := dial(t, url, &websocket.DialOptions{HTTPClient: dialer("127.0.0.2", 0),
		OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true }})
	next(t, alive)
	// Reading answers pings; nothing else comes on an idle page.
	reading := make(chan error, 1)
	go func() {
		_, _, err := alive.Read(context.Background())
		reading <- err
	}()
	deaf := dial(t, url, &websocket.DialOptions{HTTPClient: dialer("127.0.0.3", 0)}) // never reads: never answers

	until(t, "the deaf client dropped", func() bool { _, n := h.slots.counts("127.0.0.3"); return n == 0 })
	until(t, "pinged 10 times", func() bool { return pings.Load() >= 10 })
	if _, n := h.slots.counts("127.0.0.2"); n != 1 {
		t.Error("the client that answers pings was dropped")
	}
	select {
	case err := <-reading:
		t.Errorf("the idle connection ended: %v", err)
	default:
	}
	_ = deaf
}

// TestShutdown: when Run stops, every client is told the server is going
// away, and Run returns once they are closed.
func TestShutdown(t *testing.T) {
	h := New(Options{Status: checked()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.Run(ctx)
		close(done)
	}()
	srv := httptest.NewServer(h)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/live"
	clients := []*websocket.Conn{dial(t, url, nil), dial(t, url, nil)}
	for _, c := range clients {
		next(t, c)
	}
	cancel()
	for _, c := range clients {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := c.Read(ctx)
		cancel()
		if websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("read after shutdown: %v; want the close status going away", err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	// A client that comes after is turned away the same way.
	c := dial(t, url, nil)
	if _, _, err := c.Read(context.Background()); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("read after shutdown: %v; want going away", err)
	}
}

package connlimit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs an http.Server on a capped loopback listener until the test ends.
func serve(t *testing.T, limits Limits) *Listener {
	t.Helper()
	return serveWith(t, limits, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
}

func serveWith(t *testing.T, limits Limits, h http.Handler) *Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(inner, limits, nil)
	srv := &http.Server{
		Handler:   h,
		ConnState: l.ConnState,
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l
}

// dial opens a connection that sends nothing yet.
func dial(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends one keep-alive request on c and reads the answer's status.
func get(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// refused reports whether c was answered 503 and closed without a request.
func refused(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "5" &&
		strings.Contains(string(body), `"error"`)
}

// closedByServer reports whether the server closed c.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF
}

// waitOpen waits until the listener counts n connections.
func waitOpen(t *testing.T, l *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", l.Open(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitIdle waits until the listener counts n idle connections.
func waitIdle(t *testing.T, l *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		got := len(l.idle)
		l.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections idle, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPerAddressCap(t *testing.T) {
	l := serve(t, Limits{Total: 100, PerIP: 3})
	var held []net.Conn
	for range 3 {
		held = append(held, dial(t, l))
	}
	waitOpen(t, l, 3)
	if !refused(t, dial(t, l)) {
		t.Fatal("a fourth connection from the same address was not refused with 503")
	}
	held[0].Close()
	waitOpen(t, l, 2)
	if got := get(t, dial(t, l)); got != 200 {
		t.Errorf("after one closed, a new connection got %d", got)
	}
}

func TestIdleConnectionMakesRoomAtTheCap(t *testing.T) {
	l := serve(t, Limits{Total: 4, PerIP: -1, IdleUnderPressure: time.Hour})
	silent := dial(t, l) // connected, no request: idle from the start
	waitOpen(t, l, 1)
	idle := dial(t, l)
	if get(t, idle) != 200 { // now idle between requests
		t.Fatal("first request failed")
	}
	for range 2 {
		dial(t, l)
	}
	waitOpen(t, l, 4)
	if got := get(t, dial(t, l)); got != 200 {
		t.Fatalf("the fifth connection got %d, want room made by the idle one", got)
	}
	if !closedByServer(silent) {
		t.Error("the connection idle the longest was not closed to make room")
	}
	if get(t, idle) != 200 {
		t.Error("a connection idle for less time was closed")
	}
}

func TestBusyConnectionsAreKept(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, 2)
	l := serveWith(t, Limits{Total: 2, PerIP: -1}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		inside <- struct{}{}
		<-release
	}))
	defer close(release)
	for range 2 {
		c := dial(t, l)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-inside // serving a request: busy
	}
	if !refused(t, dial(t, l)) {
		t.Error("with every connection serving a request, a new one was not refused")
	}
}

func TestIdleConnectionsCloseSoonerUnderPressure(t *testing.T) {
	l := serve(t, Limits{Total: 8, PerIP: -1, IdleUnderPressure: 5 * time.Second})
	var mu sync.Mutex
	now := time.Now()
	l.mu.Lock()
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l.mu.Unlock()
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	var idle []net.Conn
	for range 3 {
		c := dial(t, l)
		get(t, c)
		idle = append(idle, c)
	}
	waitIdle(t, l, 3)
	advance(10 * time.Second) // idle for 10 s, but no pressure: they stay
	for range 3 {
		dial(t, l)
	}
	waitOpen(t, l, 6)
	// The seventh connection takes the listener past three quarters.
	advance(time.Second)
	c := dial(t, l)
	if get(t, c) != 200 {
		t.Fatal("request failed")
	}
	for i, c := range idle {
		if !closedByServer(c) {
			t.Errorf("connection %d, idle for 11 s under pressure, is still open", i)
		}
	}
}

func TestBudget(t *testing.T) {
	tests := []struct {
		soft          uint64
		reserve, want int
		cap           int
	}{
		{1024, 600, 0, 424},
		{1024, 600, 100, 100},
		{1024, 600, 5000, 424},
		{256, 600, 0, 16}, // never below 16
		{0, 600, 0, 0},    // unknown limit: the caller's default
		{1 << 20, 600, 0, 1<<20 - 600},
	}
	for _, tc := range tests {
		if got := Budget(tc.soft, tc.reserve, tc.want); got != tc.cap {
			t.Errorf("Budget(%d, %d, %d) = %d, want %d", tc.soft, tc.reserve, tc.want, got, tc.cap)
		}
	}
}

package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/server"
)

// TestListenStopsAtOnce: a stop does not wait for connections that never
// sent a request (a browser's preconnect, a client's spare), and lets a
// request under way finish.
func TestListenStopsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "ok")
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Listen(ctx, ln, h, slog.New(slog.DiscardHandler)) }()

	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	<-started

	began := time.Now()
	stop()
	time.AfterFunc(300*time.Millisecond, func() { close(release) })
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Listen: %v", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Listen still waits 4 s after the stop")
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("the stop took %v with a silent connection open, want the slow request's 0.3 s", took)
	}
	if got := <-slow; got != "ok" {
		t.Errorf("the request under way got %q, want ok", got)
	}
	silent.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := silent.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the silent connection is still open: %d %v", n, err)
	}
}

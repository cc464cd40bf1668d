package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"time"
)

// hookEvent is one webhook notification as it arrived.
type hookEvent struct {
	At     time.Time
	Type   string `json:"type"`
	Status string `json:"status"`
}

// webhookSink receives the server's webhook notifications on loopback.
type webhookSink struct {
	URL    string
	events chan hookEvent
	srv    *http.Server
	done   chan struct{}
}

func startWebhookSink() (*webhookSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &webhookSink{URL: "http://" + ln.Addr().String() + "/hook", events: make(chan hookEvent, 64), done: make(chan struct{})}
	w.srv = &http.Server{Handler: http.HandlerFunc(w.serve), ReadHeaderTimeout: 5 * time.Second, ErrorLog: discardLogger()}
	go func() {
		defer close(w.done)
		_ = w.srv.Serve(ln)
	}()
	return w, nil
}

func (w *webhookSink) serve(rw http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	ev := hookEvent{}
	_ = json.Unmarshal(body, &ev)
	ev.At = at
	select {
	case w.events <- ev:
	default: // nobody is listening; drop rather than block the server
	}
	rw.WriteHeader(http.StatusOK)
}

// drain forgets events received so far.
func (w *webhookSink) drain() {
	for {
		select {
		case <-w.events:
		default:
			return
		}
	}
}

// await returns the first event with the given type and status, or false
// after timeout.
func (w *webhookSink) await(ctx context.Context, typ, status string, timeout time.Duration) (hookEvent, bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev := <-w.events:
			if ev.Type == typ && ev.Status == status {
				return ev, true
			}
		case <-t.C:
			return hookEvent{}, false
		case <-ctx.Done():
			return hookEvent{}, false
		}
	}
}

func (w *webhookSink) close() {
	_ = w.srv.Close()
	<-w.done
}

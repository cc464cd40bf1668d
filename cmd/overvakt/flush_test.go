package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/sqlite"
)

// lockedBuffer is a log the server writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFlushOfDeadReplicaIsTold: an agent that flushes a dead host makes
// the page healthy, as before, but the flush is logged as a warning, kept
// in the history, and the message that tells people of the recovery says
// why; after a restart the host does not come back.
func TestFlushOfDeadReplicaIsTold(t *testing.T) {
	hooks := newHookLog(t)
	addr := freePort(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "overvakt.db")
	cfg := filepath.Join(dir, "overvakt.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[server]
log_level = "warn"
inet = %q
manager_token = %q
reporter_token = %q

[storage]
path = %q

[metrics]
push_delay_dead = 1

[notify.webhook]
hook_url = "%s/hook"

[[probe.service]]
id = "agents"

[[probe.service.node]]
id = "hosts"
mode = "push"
`, addr, managerToken, reporterToken, db, hooks.srv.URL)), 0o600)
	c := client{"http://" + addr}
	start := func(logs *lockedBuffer) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- run(ctx, []string{"-c", cfg}, io.Discard, logs) }()
		waitUp(t, c.base)
		return func() {
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("server exited %d:\n%s", code, logs)
			}
		}
	}

	logs := &lockedBuffer{}
	stop := start(logs)
	if code, err := c.report("db-1", 1); err != nil || code != 200 {
		t.Fatalf("report: %d %v", code, err)
	}
	// Silent for interval + push_delay_dead: dead, and people are told.
	dead := hooks.waitFor(t, 1, 15*time.Second)[0]
	if dead["status"] != "dead" || dead["notes"] != nil {
		t.Fatalf("first webhook %v, want a change to dead without notes", dead)
	}

	if code, body, err := c.do("DELETE", "/reporter/agents/hosts/db-1/", reporterToken, ""); err != nil || code != 200 {
		t.Fatalf("flush: %d %s %v", code, body, err)
	}
	const note = "dead replica agents:hosts:db-1 flushed by the reporter token from 127.0.0.1"
	healthy := hooks.waitFor(t, 2, 15*time.Second)[1]
	notes, _ := healthy["notes"].([]any)
	if healthy["status"] != "healthy" || len(notes) != 1 || !strings.HasPrefix(fmt.Sprint(notes[0]), note) {
		t.Fatalf("second webhook %v, want healthy with a note starting %q", healthy, note)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="dead replica flushed" service=agents node=hosts replica=db-1 by="the reporter token from 127.0.0.1"`) {
		t.Errorf("no warning of the flush in the log:\n%s", logs)
	}
	stop()

	// The history keeps the flush: the replica's last result and the
	// node's recovery both say who flushed it.
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	hosts := store.Component{Service: "agents", Node: "hosts"}
	far := time.Now().Add(time.Hour)
	results, err := st.Results(context.Background(), hosts, time.Time{}, far)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := st.Changes(context.Background(), hosts, time.Time{}, far)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if n := len(results); n == 0 || results[n-1].Status != status.Dead || !strings.HasPrefix(results[n-1].Reason, note) {
		t.Errorf("last result of the node %+v, want db-1 dead with the note", results)
	}
	if n := len(changes); n == 0 || changes[n-1].Status != status.Healthy || !strings.HasPrefix(changes[n-1].Reason, note) {
		t.Errorf("last change of the node %+v, want healthy with the note", changes)
	}

	stop = start(&lockedBuffer{})
	defer stop()
	if reps := c.replicas(t, "agents", "hosts"); len(reps) != 0 {
		t.Errorf("after a restart the node shows %v, want the flushed replica gone", reps)
	}
}

package notify

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// TestNotesGoWithTheNextMessage: a note reaches the next message, whatever
// its kind, and that one only; beyond MaxListed notes are counted.
func TestNotesGoWithTheNextMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		reg := status.NewRegistry([]status.ServiceSpec{{ID: "agents", Nodes: []status.NodeSpec{
			{ID: "hosts", Mode: status.ModePush}}}}, start)
		cfg := config.Default()
		all := newRecorder("all")
		d := NewDispatcher(DispatcherOptions{Config: &cfg, Registry: reg, Channels: []Channel{{Notifier: all}}})
		runDispatcher(t, d)

		reg.Upsert(0, 0, "db-1", status.Result{Status: status.Dead, At: start, Err: "silent"})
		time.Sleep(2 * time.Second)
		if m := all.next(t); m.Status != status.Dead || len(m.Notes) != 0 {
			t.Fatalf("first message: %s notes %q, want dead without notes", describe([]*Message{m}), m.Notes)
		}

		// An agent flushes the dead host: the page recovers without a
		// recovery, and the message says why.
		const note = "dead replica agents:hosts:db-1 flushed by the reporter token from 192.0.2.7"
		d.Note(note)
		reg.RemoveNoted(0, 0, "db-1", time.Now(), note)
		time.Sleep(2 * time.Second)
		m := all.next(t)
		if m.Status != status.Healthy || len(m.Notes) != 1 || m.Notes[0] != note {
			t.Fatalf("after the flush: %s notes %q, want healthy with the note", describe([]*Message{m}), m.Notes)
		}
		if text := m.Text(); !strings.Contains(text, "\nNotes:\n- "+note+"\n") {
			t.Errorf("text does not show the note:\n%s", text)
		}

		// The next message has none left; too many are counted.
		for i := range MaxListed + 5 {
			d.Note(fmt.Sprintf("note %d", i))
		}
		reg.Upsert(0, 0, "db-2", status.Result{Status: status.Dead, At: time.Now()})
		time.Sleep(2 * time.Second)
		m = all.next(t)
		if len(m.Notes) != MaxListed+1 || m.Notes[MaxListed] != "and 5 more notes; see the server's log" {
			t.Fatalf("%d notes, last %q; want %d and a count", len(m.Notes), m.Notes[len(m.Notes)-1], MaxListed+1)
		}
		reg.Upsert(0, 0, "db-2", status.Result{Status: status.Healthy, At: time.Now()})
		time.Sleep(2 * time.Second)
		if m := all.next(t); len(m.Notes) != 0 {
			t.Fatalf("a note went out twice: %q", m.Notes)
		}
	})
}

package live

import (
	"bytes"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// state is what the owner knows while clients listen: the registry as
// last told, the announcements and incidents as last sent, and the
// snapshot message for clients that join (nil: to be made again).
type state struct {
	o        Options
	diff     *differ
	annV     uint64
	anns     []announcementOut
	annJSON  []byte
	incV     uint64
	incs     []incidentOut
	incJSON  []byte
	snapshot []byte
}

func newState(o Options) *state {
	st := &state{o: o, diff: newDiffer(o.Status.Snapshot()), anns: []announcementOut{}, incs: []incidentOut{}}
	if o.Announcements != nil {
		var list []store.Announcement
		list, st.annV = o.Announcements()
		st.anns = announcements(list)
	}
	if o.Incidents != nil {
		var list []store.Incident
		list, st.incV = o.Incidents()
		st.incs = incidents(list, st.diff.snap)
	}
	st.annJSON, st.incJSON = encode(st.anns), encode(st.incs)
	return st
}

// snapshotMessage is the snapshot of what clients were last told, made
// once for every client that joins until something changes.
func (st *state) snapshotMessage() []byte {
	if st.snapshot == nil {
		st.snapshot = encode(snapshotOf(st.diff.snap, st.anns, st.incs))
	}
	return st.snapshot
}

// step looks at every source and returns the messages that tell what
// changed since the last step, each encoded once for every client.
func (st *state) step() [][]byte {
	var out [][]byte
	stat, mon, resync := st.diff.step(st.o.Status.Snapshot())
	if resync {
		st.snapshot = nil
		out = append(out, st.snapshotMessage())
	}
	if mon != nil {
		out = append(out, encode(mon))
	}
	if stat != nil {
		out = append(out, encode(stat))
	}
	if st.o.Announcements != nil {
		if list, v := st.o.Announcements(); v != st.annV {
			st.annV = v
			if anns := announcements(list); st.changed(&st.annJSON, anns) {
				st.anns = anns
				out = append(out, encode(announcementMsg{Type: "announcement", Announcements: anns}))
			}
		}
	}
	if st.o.Incidents != nil {
		if list, v := st.o.Incidents(); v != st.incV {
			st.incV = v
			if incs := incidents(list, st.diff.snap); st.changed(&st.incJSON, incs) {
				st.incs = incs
				out = append(out, encode(incidentMsg{Type: "incident", Incidents: incs}))
			}
		}
	}
	if len(out) > 0 {
		st.snapshot = nil
	}
	return out
}

// changed reports whether list encodes otherwise than *last, and keeps
// its encoding there: a new version may change nothing the page shows (an
// incident's draft).
func (st *state) changed(last *[]byte, list any) bool {
	js := encode(list)
	if bytes.Equal(js, *last) {
		return false
	}
	*last = js
	return true
}

var _ Status = (*status.Registry)(nil)

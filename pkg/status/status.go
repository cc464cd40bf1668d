// Package status holds the health model: services → nodes → replicas, the
// aggregation rules between them, and the immutable snapshots that readers
// (page, API, notifier) use without taking a lock.
package status

import "fmt"

// Status of a replica, node, service or the whole page. Order matters: a
// larger value is worse, so aggregation is a max.
type Status uint8

const (
	Healthy Status = iota
	Sick
	Dead
)

var statusNames = [...]string{Healthy: "healthy", Sick: "sick", Dead: "dead"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// MarshalText writes the status as its lowercase name, as the wire protocol wants.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts "healthy", "sick" or "dead".
func (s *Status) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Parse reads a status name.
func Parse(name string) (Status, error) {
	for i, n := range statusNames {
		if n == name {
			return Status(i), nil
		}
	}
	return Healthy, fmt.Errorf("unknown status %q (want healthy, sick or dead)", name)
}

// Worst returns the worse of two statuses.
func Worst(a, b Status) Status {
	if b > a {
		return b
	}
	return a
}

// Mode says how a node's replicas get their status.
type Mode uint8

const (
	ModePoll Mode = iota
	ModePush
	ModeScript
	ModeLocal
)

var modeNames = [...]string{ModePoll: "poll", ModePush: "push", ModeScript: "script", ModeLocal: "local"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// MarshalText writes the mode name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// ParseMode reads a mode name.
func ParseMode(name string) (Mode, error) {
	for i, n := range modeNames {
		if n == name {
			return Mode(i), nil
		}
	}
	return ModePoll, fmt.Errorf("unknown mode %q (want poll, push, script or local)", name)
}

package probe

import (
	"testing"
	"time"
)

func TestNextSlot(t *testing.T) {
	const I = 100 * time.Millisecond
	scenarios := []struct {
		name                   string
		phase, began, finished time.Duration
		want                   time.Duration
	}{
		{name: "steady state: one interval later", phase: 30e6, began: 230e6, finished: 240e6, want: 330e6},
		{name: "late finish still keeps the slot", phase: 30e6, began: 230e6, finished: 320e6, want: 330e6},
		{name: "first sweep, late phase: same interval", phase: 80e6, began: 0, finished: 5e6, want: 80e6},
		{name: "first sweep, early phase: next interval", phase: 20e6, began: 1e6, finished: 5e6, want: 120e6},
		{name: "overrun skips to the first slot after the end", phase: 30e6, began: 30e6, finished: 250e6, want: 330e6},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			j := &job{interval: I, phase: sc.phase, began: sc.began}
			if got := j.next(sc.finished); got != sc.want {
				t.Errorf("next = %v, want %v", got, sc.want)
			}
		})
	}
}

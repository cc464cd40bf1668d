package main

import (
	"testing"
	"time"
)

func TestProbeFloor(t *testing.T) {
	f, err := startFleet(fleetSpec{HTTPReplicas: 20, HTTPListeners: 4, Slots: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	for _, batch := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(batch.String(), func(t *testing.T) {
			before := f.probes.Load()
			c, err := probeFloor(f.urls, 200, 8, batch, 300*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if c.Probes != 60 || c.Failed != 0 || c.CPU <= 0 {
				t.Fatalf("calibration = %+v, want 60 probes (200/s for 300 ms), none failed, some CPU", c)
			}
			if got := f.probes.Load() - before; got != c.Probes {
				t.Fatalf("fleet saw %d probes, client counted %d", got, c.Probes)
			}
		})
	}
	if _, err := probeFloor(nil, 10, 1, 0, time.Millisecond); err == nil {
		t.Fatal("want an error without URLs")
	}
}

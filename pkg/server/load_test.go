package server

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// TestLoadWithWrk measures GET / over real TCP with wrk while probe results
// keep arriving (100 services × 10 nodes × 2 replicas; about 20 results a
// second, a status change every 5 s). Opt in with OVERVAKT_LOAD_TEST=1;
// OVERVAKT_LOAD_ARGS replaces the wrk flags (default -t2 -c64 -d10s).
func TestLoadWithWrk(t *testing.T) {
	if os.Getenv("OVERVAKT_LOAD_TEST") != "1" {
		t.Skip("set OVERVAKT_LOAD_TEST=1 to run the load test (needs wrk)")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install wrk)")
	}
	now := time.Now()
	reg := gridRegistry(100, 10, 2, now)
	url := serveOnLoopback(t, newTestServer(t, testConfig(), reg, nil))

	ctx, cancel := context.WithCancel(context.Background())
	var probes sync.WaitGroup
	probes.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			st := status.Healthy
			if i%200 >= 100 { // flips every 5 s
				st = status.Sick
			}
			ref := status.Ref{Service: 0, Node: 0, Replica: 0}
			if i%2 == 1 {
				ref = status.Ref{Service: i % 100, Node: i % 10, Replica: 1}
				st = status.Healthy
			}
			reg.Set(ref, status.Result{Status: st, Latency: time.Duration(40+i%300) * time.Millisecond, At: time.Now()})
		}
	})
	defer func() { cancel(); probes.Wait() }()

	args := strings.Fields(os.Getenv("OVERVAKT_LOAD_ARGS"))
	if len(args) == 0 {
		args = []string{"-t2", "-c64", "-d10s"}
	}
	args = append(args, "--latency", "-H", "Accept-Encoding: gzip", url)
	out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	t.Logf("wrk %s\n%s", strings.Join(args, " "), out)
}

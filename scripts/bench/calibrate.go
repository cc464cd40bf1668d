package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The calibration client is this harness re-run as a child process: it
// probes the fleet the way a plain Go prober would (net/http, HEAD, a fresh
// connection per probe, Parallelism workers) at the server's steady rate,
// and reports its own CPU per probe. On a shared or virtual machine that
// floor moves a lot; next to the server's figure it says how much of the
// cost is the machine's connection handling and how much the server's own.

// calibration is what the child prints as JSON.
type calibration struct {
	Probes int64         `json:"probes"`
	Failed int64         `json:"failed"`
	CPU    time.Duration `json:"cpu_ns"`
}

// runCalibrationClient is the child's main: URLs one per line in file.
func runCalibrationClient(file string, rate, workers int, batch, d time.Duration) int {
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "calibration:", err)
		return 2
	}
	c, err := probeFloor(strings.Fields(string(b)), rate, workers, batch, d)
	if err != nil {
		fmt.Fprintln(os.Stderr, "calibration:", err)
		return 2
	}
	out, _ := json.Marshal(c)
	fmt.Println(string(out))
	return 0
}

// probeFloor sends HEAD probes round-robin over urls at rate per second
// for d and measures this process's CPU time meanwhile. With batch 0 every
// probe starts on its own tick (evenly spread, like a flat schedule);
// otherwise the probes due within each batch period start together.
func probeFloor(urls []string, rate, workers int, batch, d time.Duration) (calibration, error) {
	if len(urls) == 0 || rate < 1 || workers < 1 {
		return calibration{}, fmt.Errorf("want URLs, a rate and workers (got %d URLs, rate %d, %d workers)", len(urls), rate, workers)
	}
	tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{KeepAlive: -1}).DialContext}
	defer tr.CloseIdleConnections()
	reqs := make([]*http.Request, len(urls))
	for i, u := range urls {
		var err error
		if reqs[i], err = http.NewRequest(http.MethodHead, u, nil); err != nil {
			return calibration{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	jobs := make(chan *http.Request, workers)
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	c0 := selfCPU()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range jobs {
				rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := tr.RoundTrip(req.WithContext(rctx))
				if err == nil {
					resp.Body.Close()
					ok.Add(1)
				} else {
					failed.Add(1)
				}
				rcancel()
			}
		}()
	}
	period := time.Second / time.Duration(rate)
	if batch > period {
		period = batch
	}
	total := int(int64(d) * int64(rate) / int64(time.Second)) // probes in the window
	start := time.Now()
	tick := time.NewTicker(period)
	k := 0
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case now := <-tick.C:
			// Start every probe due by now, so a late tick catches up.
			for due := min(int(now.Sub(start).Seconds()*float64(rate)), total); k < due; k++ {
				jobs <- reqs[k%len(reqs)]
			}
		}
	}
	tick.Stop()
	// The end of the window is one more late tick: a machine too busy to
	// tick near the end still sends the rate's worth of probes.
	for ; k < total; k++ {
		jobs <- reqs[k%len(reqs)]
	}
	close(jobs)
	wg.Wait()
	return calibration{Probes: ok.Load(), Failed: failed.Load(), CPU: selfCPU() - c0}, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// calibrate runs the calibration client against urls and returns its CPU
// per probe.
func calibrate(ctx context.Context, dir string, urls []string, rate, workers int, batch, d time.Duration) (calibration, error) {
	self, err := os.Executable()
	if err != nil {
		return calibration{}, err
	}
	file := filepath.Join(dir, "calibration-urls.txt")
	if err := os.WriteFile(file, []byte(strings.Join(urls, "\n")), 0o600); err != nil {
		return calibration{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-calibration-client", file, "-calibration-rate", strconv.Itoa(rate),
		"-calibration-workers", strconv.Itoa(workers), "-calibration-batch", batch.String(), "-duration", d.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.Output()
	if err != nil {
		return calibration{}, fmt.Errorf("calibration client: %w", err)
	}
	var c calibration
	if err := json.Unmarshal(out, &c); err != nil {
		return calibration{}, fmt.Errorf("calibration client output %q: %w", out, err)
	}
	return c, nil
}

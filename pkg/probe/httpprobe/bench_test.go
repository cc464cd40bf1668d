package httpprobe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/status"
)

// benchServerEnv makes the test binary serve benchmark targets instead of
// running tests: the value is the number of listeners. Targets live in a
// child process so the prober's CPU and memory are measured alone.
const benchServerEnv = "OVERVAKT_PROBE_BENCH_SERVER"

func TestMain(m *testing.M) {
	if n := os.Getenv(benchServerEnv); n != "" {
		os.Exit(serveBenchTargets(n))
	}
	os.Exit(m.Run())
}

// serveBenchTargets answers 200 on n loopback listeners, prints their
// addresses, one per line, and serves until stdin closes.
func serveBenchTargets(n string) int {
	count, err := strconv.Atoi(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		ReadHeaderTimeout: 10 * time.Second}
	for range count {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(ln.Addr().String())
		go srv.Serve(ln)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// startBenchTargets runs serveBenchTargets in a child process and returns
// the base URLs of its listeners.
func startBenchTargets(b *testing.B, listeners int) []string {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"="+strconv.Itoa(listeners))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	var bases []string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "ready" {
		bases = append(bases, "http://"+lines.Text())
	}
	if len(bases) != listeners {
		b.Fatalf("target server started %d of %d listeners", len(bases), listeners)
	}
	return bases
}

// benchConfig spreads replicas over services of 10 nodes of 10 replicas,
// each replica a distinct path on one of the listeners.
func benchConfig(bases []string, replicas int) *config.Config {
	cfg := config.Default()
	cfg.Metrics.PollDelayDead = 10
	cfg.Metrics.PollDelaySick = 5
	for i := 0; i < replicas; i += 100 {
		svc := config.Service{ID: "svc" + strconv.Itoa(i/100)}
		for n := 0; n < 10 && i+n*10 < replicas; n++ {
			node := config.Node{ID: "node" + strconv.Itoa(n), Mode: "poll"}
			for r := 0; r < 10 && i+n*10+r < replicas; r++ {
				k := i + n*10 + r
				node.Replicas = append(node.Replicas, bases[k%len(bases)]+"/r"+strconv.Itoa(k))
			}
			svc.Nodes = append(svc.Nodes, node)
		}
		cfg.Probe.Services = append(cfg.Probe.Services, svc)
	}
	return &cfg
}

func countChecked(snap *status.Snapshot) (checked, healthy int) {
	for _, svc := range snap.Services {
		for _, n := range svc.Nodes.All() {
			for _, r := range n.Replicas.All() {
				if !r.Checked.IsZero() {
					checked++
					if r.Status == status.Healthy {
						healthy++
					}
				}
			}
		}
	}
	return checked, healthy
}

func rssBytes() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) * 1024
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFirstSweep measures the first full sweep of 10,000 HTTP replicas
// (50 listeners in a child process) with poll_parallelism 512: seconds until
// every replica has a result, and memory right after.
func BenchmarkFirstSweep(b *testing.B) {
	const replicas = 10000
	bases := startBenchTargets(b, 50)
	var sweep time.Duration
	var rss, heap float64
	for b.Loop() {
		cfg := benchConfig(bases, replicas)
		cfg.Metrics.PollParallelism = 512
		reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
		s, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: reg, Kinds: testKinds, Version: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		changed, unsubscribe := reg.Subscribe()
		ctx, cancel := context.WithCancel(context.Background())
		finished := make(chan struct{})
		began := time.Now()
		go func() { s.Run(ctx); close(finished) }()
		for {
			<-changed
			if checked, _ := countChecked(reg.Snapshot()); checked == replicas {
				break
			}
		}
		sweep = time.Since(began)
		unsubscribe()
		if _, healthy := countChecked(reg.Snapshot()); healthy != replicas {
			b.Fatalf("%d of %d replicas healthy", healthy, replicas)
		}
		rss = rssBytes()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = float64(ms.HeapInuse)
		cancel()
		<-finished
	}
	b.ReportMetric(sweep.Seconds(), "sweep-s")
	b.ReportMetric(rss/(1<<20), "rss-MB")
	b.ReportMetric(heap/(1<<20), "heap-inuse-MB")
}

// BenchmarkHTTPProbeCPU measures the prober's CPU time per HTTP probe in
// steady state: 10,000 replicas with a 5 s interval (2,000 probes/s spread
// evenly), targets in a child process so their CPU is not counted. One op is
// one probe; the cpu-µs/probe metric is what matters (ns/op is set by the rate).
func BenchmarkHTTPProbeCPU(b *testing.B) {
	const replicas = 10000
	bases := startBenchTargets(b, 50)
	cfg := benchConfig(bases, replicas)
	cfg.Metrics.PollInterval = 5
	cfg.Metrics.PollParallelism = 64
	reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
	s, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: reg, Kinds: testKinds, Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { s.Run(ctx); close(finished) }()
	defer func() { cancel(); <-finished }()

	// Past the first sweep and the first gap: steady state.
	time.Sleep(cfg.Metrics.PollInterval.Duration() * 3 / 2)
	if checked, _ := countChecked(reg.Snapshot()); checked != replicas {
		b.Fatalf("only %d of %d replicas checked after the first sweep", checked, replicas)
	}

	b.ResetTimer()
	v0, cpu0, t0 := reg.Snapshot().Version, cpuTime(), time.Now()
	for reg.Snapshot().Version-v0 < uint64(b.N) {
		time.Sleep(20 * time.Millisecond)
	}
	probes := reg.Snapshot().Version - v0
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	b.StopTimer()
	if _, healthy := countChecked(reg.Snapshot()); healthy != replicas {
		b.Fatalf("%d of %d replicas healthy", healthy, replicas)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(probes), "cpu-µs/probe")
	b.ReportMetric(float64(probes)/wall.Seconds(), "probes/s")
}

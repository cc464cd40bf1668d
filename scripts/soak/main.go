// Command soak runs the real overvakt binary for a long while under the
// load of a busy day and watches it for leaks:
//
//	go run ./scripts/soak                    # 10 minutes
//	go run ./scripts/soak -duration 2m       # a shorter look
//
// 1,000 poll replicas flap (each turns dead and back every few minutes),
// 100 push agents report every 5 s, an announcement is published and an
// older one retracted every 30 s, and the server gets a SIGHUP (a config
// reload) every minute. Every minute it samples the server's goroutines
// (from /metrics), resident memory and open descriptors (/proc), and at
// the end it checks that nothing was lost (every acknowledged announcement
// and agent is there) and prints a table for docs/BENCHMARKS.md. It exits
// non-zero when the server died, logged a panic, lost something, or grew
// by more than 10 % after the warm-up.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	managerToken  = "soak-manager-token-0123456789"
	reporterToken = "soak-reporter-token-0123456789"
)

func main() {
	duration := flag.Duration("duration", 10*time.Minute, "how long to run")
	every := flag.Duration("sample", time.Minute, "time between two samples, and between two reloads")
	warmup := flag.Int("warmup", 2, "samples before growth is measured")
	bin := flag.String("bin", "", "overvakt binary (default: build ./cmd/overvakt)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := soak(ctx, *duration, *every, *warmup, *bin); err != nil {
		log.Fatal(err)
	}
}

type sample struct {
	at         time.Duration
	goroutines int
	rssKB      int
	fds        int
}

func soak(ctx context.Context, duration, every time.Duration, warmup int, bin string) error {
	dir, err := os.MkdirTemp("", "overvakt-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "overvakt")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/overvakt").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}

	// The targets: replica i is dead for a minute in every period of
	// 3 + i%5 minutes, starting at a different moment for each.
	began := time.Now()
	targets := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		period := time.Duration(3+i%5) * time.Minute
		if (time.Since(began)+time.Duration(i)*time.Second)%period < time.Minute {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go targets.Serve(tln)
	defer targets.Close()

	var notified atomic.Int64
	hooks := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		notified.Add(1)
	})}
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go hooks.Serve(hln)
	defer hooks.Close()

	addr, err := freePort()
	if err != nil {
		return err
	}
	cfg := filepath.Join(dir, "overvakt.toml")
	if err := os.WriteFile(cfg, []byte(config(addr, "http://"+tln.Addr().String(), "http://"+hln.Addr().String(), filepath.Join(dir, "overvakt.db"))), 0o600); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-c", cfg)
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	base := "http://" + addr
	if err := waitUp(base); err != nil {
		return err
	}

	work, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var announced []string // published and not retracted
	var reports atomic.Int64
	for h := range 100 {
		wg.Go(func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				code, _ := call("POST", base+"/reporter/agents/hosts/", reporterToken,
					fmt.Sprintf(`{"replica":"host-%03d","interval":5,"load":{"cpu":0.2,"ram":0.4}}`, h))
				if code == 200 {
					reports.Add(1)
				}
				select {
				case <-work.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Go(func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for i := 0; ; i++ {
			code, body := call("POST", base+"/manager/announcement", managerToken,
				fmt.Sprintf(`{"title":"Notice %d","text":"Soak test notice %d."}`, i, i))
			if code == 200 {
				var a struct{ ID string }
				json.Unmarshal([]byte(body), &a)
				mu.Lock()
				announced = append(announced, a.ID)
				if len(announced) > 5 {
					if code, _ := call("DELETE", base+"/manager/announcement/"+announced[0], managerToken, ""); code == 200 {
						announced = announced[1:]
					}
				}
				mu.Unlock()
			}
			select {
			case <-work.Done():
				return
			case <-t.C:
			}
		}
	})

	var samples []sample
	take := func() {
		s := sample{at: time.Since(began).Round(time.Second)}
		s.goroutines = goroutines(base)
		s.rssKB, s.fds = procStats(cmd.Process.Pid)
		samples = append(samples, s)
		fmt.Fprintf(os.Stderr, "%v: %d goroutines, %d KB resident, %d descriptors, %d notifications\n",
			s.at, s.goroutines, s.rssKB, s.fds, notified.Load())
	}
	take()
	tick := time.NewTicker(every)
	defer tick.Stop()
	deadline := time.After(duration)
	reloads := 0
loop:
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			return fmt.Errorf("the server exited: %v (log: %s)", err, filepath.Join(dir, "server.log"))
		case <-deadline:
			break loop
		case <-tick.C:
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				return err
			}
			reloads++
			time.Sleep(2 * time.Second) // the reload settles before the sample
			take()
		}
	}
	stopWork()
	wg.Wait()

	// Nothing lost: the announcements still published, and every agent.
	_, body := call("GET", base+"/manager/announcements", managerToken, "")
	for _, id := range announced { // the writer has stopped
		if !strings.Contains(body, `"`+id+`"`) {
			return fmt.Errorf("announcement %s was acknowledged and is gone", id)
		}
	}
	_, report := call("GET", base+"/status/report", "", "")
	for h := range 100 {
		if !strings.Contains(report, fmt.Sprintf(`"host-%03d"`, h)) {
			return fmt.Errorf("agent host-%03d reported and is gone", h)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		return fmt.Errorf("the server did not exit cleanly: %v", err)
	}
	logText, _ := os.ReadFile(filepath.Join(dir, "server.log"))
	if strings.Contains(string(logText), "panic:") {
		return fmt.Errorf("the server panicked; its log is in %s", dir)
	}

	fmt.Printf("| minute | goroutines | RSS (MB) | descriptors |\n|---|---|---|---|\n")
	for _, s := range samples {
		fmt.Printf("| %.0f | %d | %.1f | %d |\n", s.at.Minutes(), s.goroutines, float64(s.rssKB)/1024, s.fds)
	}
	fmt.Printf("\n%d reloads, %d reports, %d notifications in %v\n", reloads, reports.Load(), notified.Load(), duration)
	if len(samples) > warmup+1 {
		ref := samples[warmup]
		last := samples[len(samples)-1]
		for _, g := range []struct {
			what     string
			from, to int
		}{{"goroutines", ref.goroutines, last.goroutines}, {"RSS", ref.rssKB, last.rssKB}, {"descriptors", ref.fds, last.fds}} {
			growth := float64(g.to-g.from) / float64(max(g.from, 1))
			fmt.Printf("%s after the warm-up: %d → %d (%+.1f %%)\n", g.what, g.from, g.to, growth*100)
			if growth > 0.10 {
				return fmt.Errorf("%s grew by %.1f %% after the warm-up", g.what, growth*100)
			}
		}
	}
	return nil
}

func config(addr, targets, hook, db string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `[server]
inet = %q
manager_token = %q
reporter_token = %q
max_connections_per_ip = 0
metrics = true

[storage]
path = %q

[metrics]
poll_interval = 10
poll_parallelism = 64
poll_delay_sick = 2
poll_delay_dead = 5
push_delay_dead = 10

[notify]
reminder_interval = 120

[notify.webhook]
hook_url = "%s/hook"

[[probe.service]]
id = "agents"

[[probe.service.node]]
id = "hosts"
mode = "push"
reveal_replica_name = true
`, addr, managerToken, reporterToken, db, hook)
	for s := range 10 {
		fmt.Fprintf(&b, "\n[[probe.service]]\nid = \"s%d\"\n", s)
		for n := range 10 {
			fmt.Fprintf(&b, "\n[[probe.service.node]]\nid = \"n%d\"\nmode = \"poll\"\nreplicas = [", n)
			for r := range 10 {
				if r > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%q", fmt.Sprintf("%s/r/%d", targets, s*100+n*10+r))
			}
			b.WriteString("]\n")
		}
	}
	return b.String()
}

func call(method, url, token, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, ""
	}
	if token != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+token)))
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// goroutines reads go_goroutines from the server's /metrics; -1 without.
func goroutines(base string) int {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return -1
}

// procStats reads a process's resident memory (KB) and open descriptors.
func procStats(pid int) (rssKB, fds int) {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKB, _ = strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return rssKB, len(entries)
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitUp(base string) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("the server did not answer within 20 s")
}

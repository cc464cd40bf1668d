package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// fdLimit is the descriptor limit the server runs under in
// TestOutOfFileDescriptorsAlertsNobody: enough to start and probe, few
// enough for a test to take them all.
const fdLimit = 64

// TestOutOfFileDescriptorsAlertsNobody lowers the real binary's
// RLIMIT_NOFILE while it runs and floods its port with idle connections
// until it has no descriptor left to probe with. That is the server's trouble, not its
// targets': no target may be alerted as dead, and once the flood ends
// every target is healthy again, from fresh results.
func TestOutOfFileDescriptorsAlertsNobody(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real binary and floods it")
	}
	bin := filepath.Join(t.TempDir(), "overvakt")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	hooks := newHookLog(t)
	addr := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "overvakt.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[server]
log_level = "info"
inet = %q
manager_token = %q
reporter_token = %q

[storage]
path = %q

[metrics]
poll_interval = 1
poll_retry = 0.1
poll_delay_sick = 0.5
poll_delay_dead = 1
script_interval = 1

[notify]
startup_notification = true

[notify.webhook]
hook_url = "%s/hook"

[[probe.service]]
id = "web"

[[probe.service.node]]
id = "api"
mode = "poll"
replicas = ["%s/health", "tcp://%s"]

[[probe.service.node]]
id = "jobs"
mode = "script"
scripts = ["exit 0"]
`, addr, managerToken, reporterToken, filepath.Join(dir, "overvakt.db"), hooks.srv.URL, target.URL,
		strings.TrimPrefix(target.URL, "http://"))), 0o600)
	c := client{"http://" + addr}

	cmd := exec.Command(bin, "-c", cfg)
	var log lockedBuffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", log.String())
		}
	}()
	waitUp(t, c.base)
	// Lower the limit under the running server, below what its connection
	// cap was computed from at start (see TestDescriptorFlood for the
	// cap): the flood then takes every descriptor, and probes fail for
	// want of one.
	lim := syscall.Rlimit{Cur: fdLimit, Max: fdLimit}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(cmd.Process.Pid), syscall.RLIMIT_NOFILE,
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0); errno != 0 {
		t.Fatalf("prlimit: %v", errno)
	}
	if first := hooks.waitFor(t, 1, 10*time.Second)[0]; first["type"] != "startup" || first["status"] != "healthy" {
		t.Fatalf("first webhook %v, want the start-up notice: healthy", first)
	}

	// Flood: the server accepts until its descriptors run out; the rest
	// wait in the listen backlog.
	var conns []net.Conn
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for range 4 * fdLimit {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		conns = append(conns, conn)
	}
	fds := filepath.Join("/proc", fmt.Sprint(cmd.Process.Pid), "fd")
	deadline := time.Now().Add(10 * time.Second)
	for {
		open, err := os.ReadDir(fds)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) >= fdLimit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections, and after 10 s the server holds %d descriptors of %d", len(conns), len(open), fdLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // three poll intervals without descriptors
	for _, conn := range conns {
		conn.Close()
	}
	conns = nil
	ended := time.Now()

	// Fresh results come back healthy.
	deadline = time.Now().Add(15 * time.Second)
	for {
		reps, err := c.checked()
		fresh := err == nil && len(reps) == 3
		for _, r := range reps {
			fresh = fresh && r.Status == "healthy" && r.Checked.After(ended.Add(-time.Second))
		}
		if fresh {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the flood: %+v (%v), want 3 healthy replicas with fresh results", reps, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if l := log.String(); !strings.Contains(l, `level=WARN msg="could not check a replica: the fault is this server's`) ||
		!strings.Contains(l, "this server has no file descriptors left") {
		t.Error("no warning says the replicas could not be checked for want of descriptors")
	}
	time.Sleep(2500 * time.Millisecond) // past the 2 s coalescing of changes
	if got := hooks.all(); len(got) != 1 {
		t.Errorf("webhooks %v, want only the start-up notice: running out of descriptors alerted someone", got[1:])
	}
	if strings.Contains(log.String(), `msg="replica changed"`) {
		t.Error("a replica changed status while the server had no descriptors")
	}
}

// replicaResult is a replica as /status/report shows it.
type replicaResult struct {
	Status  string    `json:"status"`
	Checked time.Time `json:"checked"`
}

// checked reads every replica of /status/report.
func (c client) checked() ([]replicaResult, error) {
	resp, err := http.Get(c.base + "/status/report")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var rep struct {
		Services []struct {
			Nodes []struct {
				Replicas []replicaResult `json:"replicas"`
			} `json:"nodes"`
		} `json:"services"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return nil, err
	}
	var out []replicaResult
	for _, s := range rep.Services {
		for _, n := range s.Nodes {
			out = append(out, n.Replicas...)
		}
	}
	return out, nil
}

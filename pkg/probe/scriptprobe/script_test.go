package scriptprobe

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/probe/probetest"
	"github.com/overvakt/overvakt/pkg/status"
)

func TestScriptExitCodes(t *testing.T) {
	scenarios := []struct {
		name     string
		script   string
		interval config.Seconds
		want     status.Status
		wantErr  string
	}{
		{name: "exit 0 is healthy", script: "echo fine", want: status.Healthy},
		{name: "exit 1 is sick", script: "echo 'disk 91% full' >&2\nexit 1", want: status.Sick,
			wantErr: "script-1: exit status 1: disk 91% full"},
		{name: "exit 2 is dead", script: "echo first\necho 'no backend'\nexit 2", want: status.Dead,
			wantErr: "script-1: exit status 2: no backend"},
		{name: "exit 7 is dead", script: "exit 7", want: status.Dead, wantErr: "script-1: exit status 7"},
		{name: "killed by a signal is dead", script: "kill -TERM $$", want: status.Dead, wantErr: "script-1: signal: terminated"},
		{name: "running past the timeout is dead", script: "sleep 10", interval: 0.3, want: status.Dead,
			wantErr: "script-1: still running after 300ms, killed"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			cfg := testConfig(scriptNode(sc.script))
			if sc.interval != 0 {
				cfg.Metrics.ScriptInterval = sc.interval
			}
			began := time.Now()
			rep := firstResult(t, cfg)
			if rep.Status != sc.want || rep.Error != sc.wantErr {
				t.Errorf("got %s %q, want %s %q", rep.Status, rep.Error, sc.want, sc.wantErr)
			}
			if took := time.Since(began); took > 3*time.Second {
				t.Errorf("result took %v", took)
			}
		})
	}
}

func TestScriptTimeoutKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := "sleep 30 &\necho $! > " + pidFile + "\nwait"
	cfg := testConfig(scriptNode(script))
	cfg.Metrics.ScriptInterval = 0.5
	rep := firstResult(t, cfg)
	if rep.Status != status.Dead {
		t.Fatalf("status = %s (%s), want dead", rep.Status, rep.Error)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background child %d of the timed-out script still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processAlive reports whether pid exists and is not a zombie waiting for a
// parent that does not reap.
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func TestScriptsRunInParallelUpToTheCap(t *testing.T) {
	dir := t.TempDir()
	// Each script holds a file in running/ while it runs and records how many
	// files it sees there.
	if err := os.Mkdir(filepath.Join(dir, "running"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := `f=$(mktemp -p ` + dir + `/running); ls ` + dir + `/running | wc -l >> ` + dir + `/peaks; sleep 0.3; rm "$f"`
	cfg := testConfig(scriptNode(script, script, script, script, script, script))
	cfg.Metrics.ScriptParallelism = 2
	r := start(t, cfg, nil)
	probetest.WaitChecked(t, r.Reg, 20*time.Second)
	b, err := os.ReadFile(filepath.Join(dir, "peaks"))
	if err != nil {
		t.Fatal(err)
	}
	peak := 0
	for _, line := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(line)
		peak = max(peak, n)
	}
	if peak != 2 {
		t.Errorf("at most %d scripts ran at once, want script_parallelism = 2", peak)
	}
}

// TestStopKillsRunningScripts: when the scheduler stops, a script still
// running is killed with what it started.
func TestStopKillsRunningScripts(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "script.pid")
	r := start(t, testConfig(scriptNode("echo $$ > "+pidFile+"; sleep 60")), nil)
	deadline := time.Now().Add(20 * time.Second)
	var pid int
	for {
		b, _ := os.ReadFile(pidFile)
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pid = n
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the script did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.Stop()
	if processAlive(pid) {
		t.Errorf("script process %d still runs after Run returned", pid)
	}
}

// A script this server cannot start for want of file descriptors says
// nothing about what it checks: the attempt is inconclusive.
func TestNoFileDescriptorsIsInconclusive(t *testing.T) {
	b, err := Kind().Prepare(&probe.Env{Metrics: &testConfig().Metrics}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := scriptNode("exit 0")
	target, err := b.Target(&n, 0)
	if err != nil {
		t.Fatal(err)
	}
	var a probe.Attempt
	probetest.WithoutFDs(t, func() { a = target.Probe(t.Context()) })
	if !a.Inconclusive || !strings.HasPrefix(a.Err, "this server has no file descriptors left") || !strings.Contains(a.Err, "script-1: cannot run: ") {
		t.Errorf("got %+v, want an inconclusive attempt blaming the file descriptors", a)
	}
}

// readPid waits for a script to write a pid into path.
func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatal("the script did not write its pid")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone fails when pid still runs a while after it should have ended.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A script that leaves a child running in the background and exits: the
// child ends with it, every run, instead of piling up as orphans.
func TestBackgroundChildrenEndWithTheScript(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	script := "sleep 3600 >/dev/null 2>&1 &\necho $! > " + pidFile + "\nexit 0"
	rep := firstResult(t, testConfig(scriptNode(script)))
	if rep.Status != status.Healthy {
		t.Fatalf("status = %s (%s), want healthy", rep.Status, rep.Error)
	}
	waitGone(t, readPid(t, pidFile), "the background child of a script that exited")
}

// On shutdown, what a running script started is killed with it.
func TestStopKillsWhatScriptsStarted(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	r := start(t, testConfig(scriptNode("sleep 3600 &\necho $! > "+pidFile+"\nwait")), nil)
	pid := readPid(t, pidFile)
	r.Stop()
	waitGone(t, pid, "the child of a script running at shutdown")
}

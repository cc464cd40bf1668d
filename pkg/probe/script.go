package probe

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// maxScriptOutput is how much of a script's output is kept; the last line of
// it goes into the replica's error.
const maxScriptOutput = 4 << 10

// scriptTarget is one entry of a script node's `scripts`.
type scriptTarget struct {
	name    string // script-1, script-2…
	script  string
	timeout time.Duration
}

func (t *scriptTarget) probe(ctx context.Context, _ *scratch) attempt {
	runCtx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "sh", "-c", t.script)
	// Its own process group, so a timeout kills what the script started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A background child that keeps the output open must not hold the worker.
	cmd.WaitDelay = time.Second
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out

	start := time.Now()
	err := cmd.Run()
	latency := time.Since(start)

	code := 0
	var exitErr *exec.ExitError
	switch {
	case runCtx.Err() != nil && ctx.Err() == nil:
		return attempt{status: status.Dead, latency: latency,
			err: t.name + ": still running after " + t.timeout.String() + ", killed"}
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		return attempt{status: status.Dead, latency: latency, err: t.name + ": cannot run: " + err.Error()}
	}

	switch code {
	case 0:
		return attempt{status: status.Healthy, latency: latency}
	case 1:
		return attempt{status: status.Sick, latency: latency, err: t.name + ": exit status 1" + out.lastLine()}
	case -1:
		return attempt{status: status.Dead, latency: latency, err: t.name + ": " + exitErr.Error() + out.lastLine()}
	default:
		return attempt{status: status.Dead, latency: latency,
			err: t.name + ": exit status " + strconv.Itoa(code) + out.lastLine()}
	}
}

// tail keeps the last maxScriptOutput bytes written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > maxScriptOutput {
		p = p[len(p)-maxScriptOutput:]
	}
	if over := len(t.b) + len(p) - maxScriptOutput; over > 0 {
		t.b = t.b[:copy(t.b, t.b[over:])]
	}
	t.b = append(t.b, p...)
	return n, nil
}

// lastLine is ": <last non-empty output line>", or "" without output.
func (t *tail) lastLine() string {
	b := bytes.TrimRight(t.b, " \t\r\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	line := strings.TrimSpace(string(b))
	for i := range line { // cut on a rune boundary
		if i >= 200 {
			line = line[:i] + "…"
			break
		}
	}
	if line == "" {
		return ""
	}
	return ": " + line
}

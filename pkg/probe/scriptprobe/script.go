// Package scriptprobe runs the scripts of script nodes: each in `sh -c`,
// exit 0 healthy, 1 sick, anything else, a failure to start or running past
// the timeout dead. The timeout is script_interval capped at one minute
// (TimeoutCap), so a stuck script never holds one of the few script slots
// for long and is always over before its next turn.
package scriptprobe

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/status"
)

// TimeoutCap bounds how long one script may run; the timeout is
// min(script_interval, TimeoutCap).
const TimeoutCap = time.Minute

// Kind is the script probe kind: it runs the scripts of nodes in mode "script".
func Kind() probe.Kind {
	return probe.Kind{
		ProbeKind: config.ProbeKind{Name: "script", Mode: "script"},
		Prepare: func(env *probe.Env, _ config.Table) (probe.Builder, error) {
			return &builder{timeout: min(env.Metrics.ScriptInterval.Duration(), TimeoutCap)}, nil
		},
	}
}

type builder struct{ timeout time.Duration }

// Target runs n.Scripts[i], named script-<i+1> as in the registry.
func (b *builder) Target(n *config.Node, i int) (probe.Target, error) {
	return &target{name: "script-" + strconv.Itoa(i+1), script: n.Scripts[i], timeout: b.timeout}, nil
}

func (b *builder) NodeCheck(*config.Node) probe.NodeCheck { return nil }
func (b *builder) Close()                                 {}

// maxScriptOutput is how much of a script's output is kept; the last line of
// it goes into the replica's error.
const maxScriptOutput = 4 << 10

// target is one entry of a script node's `scripts`.
type target struct {
	name    string // script-1, script-2…
	script  string
	timeout time.Duration
}

func (t *target) Probe(ctx context.Context) probe.Attempt {
	runCtx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "sh", "-c", t.script)
	// Its own process group, so that what the script started ends with it:
	// on a timeout, on shutdown (ctx), and when the script exits (below).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A background child that keeps the output open must not hold the worker.
	cmd.WaitDelay = time.Second
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out

	start := time.Now()
	err := cmd.Run()
	latency := time.Since(start)
	if cmd.Process != nil {
		// A check is over when its script exits: children it left running
		// in the background would pile up, one set per run, and outlive
		// the server.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}

	code := 0
	var exitErr *exec.ExitError
	switch {
	case runCtx.Err() != nil && ctx.Err() == nil:
		return probe.Attempt{Status: status.Dead, Latency: latency,
			Err: t.name + ": still running after " + t.timeout.String() + ", killed"}
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		if why := probe.ServerFault(err); why != "" {
			// Not the script's fault: no pipe or process could be made.
			return probe.Attempt{Status: status.Dead, Inconclusive: true, Latency: latency,
				Err: why + ": " + t.name + ": cannot run: " + err.Error()}
		}
		return probe.Attempt{Status: status.Dead, Latency: latency, Err: t.name + ": cannot run: " + err.Error()}
	}

	switch code {
	case 0:
		return probe.Attempt{Status: status.Healthy, Latency: latency}
	case 1:
		return probe.Attempt{Status: status.Sick, Latency: latency, Err: t.name + ": exit status 1" + out.lastLine()}
	case -1:
		return probe.Attempt{Status: status.Dead, Latency: latency, Err: t.name + ": " + exitErr.Error() + out.lastLine()}
	default:
		return probe.Attempt{Status: status.Dead, Latency: latency,
			Err: t.name + ": exit status " + strconv.Itoa(code) + out.lastLine()}
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

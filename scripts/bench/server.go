package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildServer compiles ./cmd/overvakt of the module at root into dir.
func buildServer(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "overvakt")
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/overvakt")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build the server (go build ./cmd/overvakt in %s): %w\n%s", root, err, out)
	}
	return bin, nil
}

// moduleRoot finds the directory holding go.mod, from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the repository (go run ./scripts/bench)")
		}
		dir = parent
	}
}

// server is a running overvakt child process.
type server struct {
	cmd     *exec.Cmd
	addr    string // host:port it listens on
	started time.Time
	logPath string

	exited   chan struct{} // closed when the process is gone
	waitErr  error
	stopping bool
	mu       sync.Mutex
}

// startServer runs `bin -c cfgPath`; the child dies with the harness
// (Pdeathsig) even if the harness itself is killed.
func startServer(bin, cfgPath, addr, logPath string) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("server log %s: %w", logPath, err)
	}
	cmd := exec.Command(bin, "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &server{cmd: cmd, addr: addr, logPath: logPath, exited: make(chan struct{})}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(s.exited)
	}()
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// crashed reports whether the process ended without being asked to.
func (s *server) crashed() (bool, error) {
	select {
	case <-s.exited:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.stopping {
			return false, nil
		}
		if s.waitErr == nil {
			return true, errors.New("exited with status 0 on its own")
		}
		return true, s.waitErr
	default:
		return false, nil
	}
}

// stop asks the server to shut down (SIGTERM), then kills it after a grace
// period; it returns when the process is gone.
func (s *server) stop() {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		slog.Warn("server ignored SIGTERM for 5 s; killing it", "pid", s.pid())
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// logTail returns the last lines the server wrote.
func (s *server) logTail(lines int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// waitHTTP polls GET path until the server answers 200, it exits, or the
// timeout passes, trying every `every`. It returns when the answer came.
func (s *server) waitHTTP(ctx context.Context, path string, timeout, every time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := buildRequest("GET", s.addr, path, nil, nil)
	var last error
	for {
		code, err := oneRequest(ctx, s.addr, req)
		if err == nil && code == 200 {
			return time.Now(), nil
		}
		if err == nil {
			last = fmt.Errorf("GET %s answered %d", path, code)
		} else {
			last = err
		}
		select {
		case <-s.exited:
			return time.Time{}, fmt.Errorf("server exited while starting (%v); log:\n%s", s.waitErrLocked(), s.logTail(30))
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("server not answering 200 on %s within %v: %v", path, timeout, last)
		case <-time.After(every):
		}
	}
}

func (s *server) waitErrLocked() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitErr
}

// oneRequest sends one request on a fresh connection and returns the code.
func oneRequest(ctx context.Context, addr string, req []byte) (int, error) {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	code, _, err := readResponse(newReader(c))
	return code, err
}

// freeAddr reserves a loopback port for the server and releases it.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// freeAddr6 is freeAddr on ::1.
func freeAddr6() (string, error) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// raiseOpenFiles lifts this process's open-files limit to its hard limit;
// the server started later inherits it.
func raiseOpenFiles() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// serverVersion runs `bin version` for the report header.
func serverVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return string(bytes.TrimSpace(out))
}

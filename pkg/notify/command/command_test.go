package command

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/notifytest"
	"github.com/overvakt/overvakt/pkg/status"
)

// script writes an executable sh script into a temporary directory.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func build(t *testing.T, c *Table) notify.Channel {
	t.Helper()
	return notifytest.Build(t, Kind(), c, notify.Deps{})
}

var message = &notify.Message{
	Kind:      notify.Changed,
	Status:    status.Dead,
	Time:      time.Date(2024, 5, 6, 8, 58, 28, 0, time.FixedZone("CEST", 2*3600)),
	Replicas:  []string{"web:core:tcp://edge-3.example.net:80", "web:core:tcp://edge-4.example.net:80"},
	More:      2,
	Recovered: []string{"api:v1:https://user:xxxxx@api.example.com/"},
	PageTitle: "Acme Status",
	PageURL:   "https://status.example.com/",
}

func TestArgumentsAndEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	path := script(t, `out="$1"; shift
for a in "$@"; do printf 'arg=%s\n' "$a"; done > "$out"
printf 'env=%s|%s|%s|%s|%s\n' "$OVERVAKT_TYPE" "$OVERVAKT_STATUS" "$OVERVAKT_REPLICAS" "$OVERVAKT_MORE" "$OVERVAKT_PAGE_URL" >> "$out"
`)
	ch := build(t, &Table{Path: path, Args: []string{
		out,
		"{{.Type}}",
		"{{.Status}}",
		"{{.Time}}",
		"{{.Replicas}}",
		"{{range .ReplicaList}}<{{.}}>{{end}}",
		"{{.More}} more",
		"{{.Recovered}}",
		"{{.PageTitle}} {{.PageURL}}",
		"$(touch pwned) ; {{.Status}}", // no shell: taken as it is
	}})
	if ch.Name() != "command" {
		t.Errorf("Name = %q", ch.Name())
	}
	if err := ch.Send(context.Background(), message); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := `arg=changed
arg=dead
arg=08:58:28 UTC+0200
arg=web:core:tcp://edge-3.example.net:80,web:core:tcp://edge-4.example.net:80
arg=<web:core:tcp://edge-3.example.net:80><web:core:tcp://edge-4.example.net:80>
arg=2 more
arg=api:v1:https://user:xxxxx@api.example.com/
arg=Acme Status https://status.example.com/
arg=$(touch pwned) ; dead
env=changed|dead|web:core:tcp://edge-3.example.net:80,web:core:tcp://edge-4.example.net:80|2|https://status.example.com/
`
	if string(got) != want {
		t.Errorf("the script saw\n%s\nwant\n%s", got, want)
	}
}

func TestTextArgument(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	ch := build(t, &Table{Path: script(t, `printf '%s' "$2" > "$1"`), Args: []string{out, "{{.Text}}"}})
	if err := ch.Send(context.Background(), message); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != message.Text() {
		t.Errorf("text argument\n%s\nwant\n%s", got, message.Text())
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"non-zero exit quotes the end of stderr",
			`printf 'x%.0s' $(seq 1 500) >&2; echo " smtp relay refused" >&2; exit 3`,
			[]string{"exit status 3", `smtp relay refused"`}},
		{"exit without stderr", `exit 1`, []string{"exit status 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := build(t, &Table{Path: script(t, tc.body)}).Send(context.Background(), message)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(err.Error()) > 450 {
				t.Errorf("error is %d bytes long; stderr should be cut to its last 300", len(err.Error()))
			}
			if notify.IsPermanent(err) {
				t.Errorf("error %q is permanent; a program that ran and failed is retried", err)
			}
		})
	}
}

// A program that cannot be started will not start on a retry either; the
// channel was built while it could.
func TestCannotStartIsPermanent(t *testing.T) {
	tests := []struct {
		name  string
		path  func(t *testing.T) string // the program, as the table names it
		after func(path string) error   // what happens to it after the build
		want  string
	}{
		{"removed", func(t *testing.T) string { return script(t, "exit 0") }, os.Remove, "no such file"},
		{"no longer executable", func(t *testing.T) string { return script(t, "exit 0") },
			func(path string) error { return os.Chmod(path, 0o644) }, "permission denied"},
		{"not a program", func(t *testing.T) string { return script(t, "exit 0") },
			func(path string) error { return os.WriteFile(path, []byte("\x00\x01 no interpreter line"), 0o755) }, "exec format error"},
		{"gone from PATH", func(t *testing.T) string {
			path := script(t, "exit 0")
			t.Setenv("PATH", filepath.Dir(path))
			return filepath.Base(path)
		}, func(string) error { return os.Setenv("PATH", "/nonexistent") }, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			ch := build(t, &Table{Path: path})
			if err := tc.after(path); err != nil {
				t.Fatal(err)
			}
			err := ch.Send(context.Background(), message)
			t.Logf("error: %v", err)
			if err == nil || !strings.Contains(err.Error(), "cannot run") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, want a cannot-run error with %q", err, tc.want)
			}
			if !notify.IsPermanent(err) {
				t.Errorf("error %q is not permanent", err)
			}
		})
	}
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	path := script(t, `sleep 30 & echo $! > "$1"; wait`)
	ch := build(t, &Table{Path: path, Args: []string{pidFile}, Timeout: 0.3})
	if ch.Timeout <= 300*time.Millisecond {
		t.Errorf("channel timeout %v should leave the command's own limit to act first", ch.Timeout)
	}
	start := time.Now()
	err := ch.Send(context.Background(), message)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Send returned after %v, want about 0.3 s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("error = %v, want killed", err)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("the script wrote no child pid: %q", b)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// Killed and reaped by init, or a zombie waiting for it.
		if syscall.Kill(pid, 0) != nil || isZombie(pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the command still runs", pid)
		}
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cmd  Table
		want string
	}{
		{"missing program", Table{Path: "/nonexistent/page-oncall"}, `notify.command.path: "/nonexistent/page-oncall" cannot be run`},
		{"template syntax", Table{Path: "/bin/sh", Args: []string{"-c", "{{.Status"}}, "notify.command.args[1]"},
		{"unknown field", Table{Path: "/bin/sh", Args: []string{"{{.Replica}}"}}, `notify.command.args[0]: "{{.Replica}}"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notifytest.TryBuild(Kind(), &tc.cmd, notify.Deps{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err=%v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// An argument that passed the check on a sample message can still fail on
// another; it fails on that message every time.
func TestTemplateFailureIsPermanent(t *testing.T) {
	ch := build(t, &Table{Path: script(t, "exit 0"), Args: []string{"{{index .ReplicaList 0}}"}})
	err := ch.Send(context.Background(), &notify.Message{Kind: notify.Changed, Status: status.Healthy, Time: message.Time})
	if err == nil || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("Send = %v, want the template's error", err)
	}
	if !notify.IsPermanent(err) {
		t.Errorf("error %q is not permanent", err)
	}
}

func TestNotes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	ch := build(t, &Table{Path: script(t, `printf '%s|%s' "$2" "$OVERVAKT_NOTES" > "$1"`),
		Args: []string{out, "{{range .NoteList}}<{{.}}>{{end}}"}})
	m := *message
	m.Notes = []string{"first note", "second note"}
	if err := ch.Send(context.Background(), &m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<first note><second note>|first note\nsecond note"; string(got) != want {
		t.Errorf("the script saw %q, want %q", got, want)
	}
}

// Package command runs a program for every notification, for anything the
// other channels do not reach. There is no shell: the program gets its
// arguments as they are, each one a text/template over Data, and the same
// facts in OVERVAKT_* environment variables.
package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
)

// DefaultTimeout applies when [notify.command] timeout is 0 or left out.
const DefaultTimeout = 10 * time.Second

// Notifier runs one configured program.
type Notifier struct {
	path    string
	args    []*template.Template
	timeout time.Duration
}

var _ notify.Notifier = (*Notifier)(nil)

// Data is what argument templates see, e.g. "{{.Status}}" or
// "{{range .ReplicaList}}{{.}} {{end}}".
type Data struct {
	Type          string   // startup, changed, reminder or test
	Status        string   // healthy, sick or dead
	Time          string   // 08:58:28 UTC+0200
	Replicas      string   // the replicas named, joined with ","
	ReplicaList   []string // the same as a list
	More          int      // replicas left out of the list
	Recovered     string   // recovered replicas, joined with ","
	RecoveredList []string
	RecoveredMore int
	Notes         string   // notes beside the status (a dead replica flushed), one per line
	NoteList      []string // the same as a list
	PageTitle     string
	PageURL       string
	Changes       string // what changed, one replica per line: "web:core:tcp://a:80: healthy → dead (refused)"
	Headline      string // one line, as chat channels use it
	Text          string // the full plain-text message
}

// DataOf is the template data for a message.
func DataOf(m *notify.Message) Data {
	return Data{
		Type:          string(m.Kind),
		Status:        m.Status.String(),
		Time:          m.TimeText(),
		Replicas:      strings.Join(m.Replicas, ","),
		ReplicaList:   m.Replicas,
		More:          m.More,
		Recovered:     strings.Join(m.Recovered, ","),
		RecoveredList: m.Recovered,
		RecoveredMore: m.RecoveredMore,
		Notes:         strings.Join(m.Notes, "\n"),
		NoteList:      m.Notes,
		PageTitle:     m.PageTitle,
		PageURL:       m.PageURL,
		Changes:       strings.Join(m.ChangeLines(), "\n"),
		Headline:      m.Headline(),
		Text:          m.Text(),
	}
}

// env is Data as environment variables.
func (d *Data) env() []string {
	return []string{
		"OVERVAKT_TYPE=" + d.Type,
		"OVERVAKT_STATUS=" + d.Status,
		"OVERVAKT_TIME=" + d.Time,
		"OVERVAKT_REPLICAS=" + d.Replicas,
		"OVERVAKT_MORE=" + strconv.Itoa(d.More),
		"OVERVAKT_RECOVERED=" + d.Recovered,
		"OVERVAKT_RECOVERED_MORE=" + strconv.Itoa(d.RecoveredMore),
		"OVERVAKT_NOTES=" + d.Notes,
		"OVERVAKT_PAGE_TITLE=" + d.PageTitle,
		"OVERVAKT_PAGE_URL=" + d.PageURL,
		"OVERVAKT_CHANGES=" + d.Changes,
		"OVERVAKT_HEADLINE=" + d.Headline,
		"OVERVAKT_TEXT=" + d.Text,
	}
}

// Kind is the command channel, [notify.command].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("command", func() *Table { return &Table{} }, New)
}

// Table is [notify.command]: a program run for each notification, its
// arguments templates over the message.
type Table struct {
	Path    string         `toml:"path"`
	Args    []string       `toml:"args"`
	Timeout config.Seconds `toml:"timeout"` // 0: DefaultTimeout
	config.ChannelOptions
}

// Check implements config.Table: every argument must be a template that
// runs on a sample message, so a typo stops the server at start.
func (t *Table) Check(c *config.Check) {
	c.Required("path", t.Path)
	for i, a := range t.Args {
		if _, err := parseArg(a); err != nil {
			c.Fail(config.IndexKey("args", i), "%q: bad template: %v (see docs/notifications.md for the fields)", a, err)
		}
	}
	c.NotNegative("timeout", float64(t.Timeout))
}

// parseArg parses one argument template and runs it on a sample message.
func parseArg(a string) (*template.Template, error) {
	t, err := template.New("arg").Option("missingkey=error").Parse(a)
	if err != nil {
		return nil, err
	}
	sample := DataOf(&notify.Message{Kind: notify.Test, Time: time.Now(), Replicas: []string{"web:core:https://example.com/"}})
	if err := t.Execute(&bytes.Buffer{}, &sample); err != nil {
		return nil, fmt.Errorf("%w (fields: Type, Status, Time, Replicas, ReplicaList, More, Recovered, RecoveredList, RecoveredMore, PageTitle, PageURL, Headline, Text)", err)
	}
	return t, nil
}

// New builds the channel from its checked table; the program must be
// there to run.
func New(c *Table, _ notify.Deps) (notify.Notifier, error) {
	if _, err := exec.LookPath(c.Path); err != nil {
		return nil, fmt.Errorf("notify.command.path: %q cannot be run: %w; give the full path of an executable file", c.Path, err)
	}
	n := &Notifier{path: c.Path, timeout: c.Timeout.Duration()}
	if n.timeout <= 0 {
		n.timeout = DefaultTimeout
	}
	for i, a := range c.Args {
		t, err := parseArg(a)
		if err != nil {
			return nil, fmt.Errorf("notify.command.args[%d]: %q: %w", i, a, err)
		}
		n.args = append(n.args, t)
	}
	return n, nil
}

// SendTimeout is a little longer than the command's own limit, so that its
// clearer error (killed after …) wins over the dispatcher's.
func (n *Notifier) SendTimeout() time.Duration { return n.timeout + time.Second }

// Name is the channel's config name.
func (n *Notifier) Name() string { return "command" }

// maxStderr is how much of the program's error output an error quotes.
const maxStderr = 300

// Send runs the program once and waits for it. A non-zero exit is an error
// with the exit code and the end of its standard error; a program still
// running at the timeout is killed with everything it started. Both are
// retried; a program that cannot be started at all is a permanent error.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	data := DataOf(m)
	args := make([]string, len(n.args))
	for i, t := range n.args {
		var b strings.Builder
		if err := t.Execute(&b, &data); err != nil {
			// The same message fails the same way every time.
			return notify.Permanent(fmt.Errorf("command %s: %w", n.path, err), "an argument template fails on this message")
		}
		args[i] = b.String()
	}

	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.path, args...)
	cmd.Env = append(os.Environ(), data.env()...)
	var stderr tail
	cmd.Stderr = &stderr
	// Its own process group, so a timeout also kills what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A background child holding stderr open must not hold the channel.
	cmd.WaitDelay = time.Second

	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("command %s: killed with its process group after %v (%v)%s", n.path, n.timeout, ctx.Err(), stderr.quote())
	case errors.As(err, &exitErr):
		return fmt.Errorf("command %s: exit status %d%s", n.path, exitErr.ExitCode(), stderr.quote())
	case errors.Is(err, exec.ErrWaitDelay): // exited 0; a child kept stderr open
		return nil
	default:
		err = fmt.Errorf("command %s: cannot run: %w", n.path, err)
		if why := cannotStart(err); why != "" {
			return notify.Permanent(err, why)
		}
		return err
	}
}

// cannotStart says why a program that could not be started never will be
// (it is missing, not executable or not a program), or "" when starting it
// may work next time (out of processes or memory, the file being
// replaced: ETXTBSY). A program that ran and failed is retried: its exit
// status says nothing about whether the next run will work.
func cannotStart(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, exec.ErrNotFound), errors.Is(err, syscall.ENOTDIR):
		return "the program does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "the program is not executable"
	case errors.Is(err, syscall.ENOEXEC):
		return "the file is not a program this system can run"
	default:
		return ""
	}
}

// tail keeps the last maxStderr bytes written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > maxStderr {
		t.b = append(t.b[:0], t.b[len(t.b)-maxStderr:]...)
	}
	return len(p), nil
}

func (t *tail) quote() string {
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return ""
	}
	return "; stderr: " + strconv.Quote(s)
}

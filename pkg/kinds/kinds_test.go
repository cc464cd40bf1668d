package kinds_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app"
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// A channel and a probe kind that exist only in this test, added to the
// set the way docs/extending.md says: a table with its checks, a
// constructor, and one line in the list. Nothing else in the program
// knows them.

// pagerTable is [notify.pager].
type pagerTable struct {
	Team  string `toml:"team"`
	Level int    `toml:"level"`
	config.ChannelOptions
}

func (t *pagerTable) Check(c *config.Check) {
	c.Required("team", t.Team)
	if t.Level < 1 || t.Level > 5 {
		c.Fail("level", "%d: want a level from 1 to 5", t.Level)
	}
}

// pager records what it is asked to send.
type pager struct {
	team string
	mu   sync.Mutex
	got  []*notify.Message
}

func (p *pager) Name() string { return "pager" }

func (p *pager) Send(_ context.Context, m *notify.Message) error {
	p.mu.Lock()
	p.got = append(p.got, m)
	p.mu.Unlock()
	return nil
}

func (p *pager) messages() []*notify.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*notify.Message(nil), p.got...)
}

// echoNode is the echo kind's key on a node.
type echoNode struct {
	Say string `toml:"echo_say"` // what a healthy echo answers; default "ok"
}

func (n *echoNode) CheckNode(c *config.Check, _ *config.Node) {
	if strings.ContainsAny(n.Say, " \t") {
		c.Fail("echo_say", "%q: one word, please", n.Say)
	}
}

// echoKind probes echo://word replicas: healthy when the word is the
// node's echo_say.
func echoKind() probe.Kind {
	return probe.Kind{
		ProbeKind: config.ProbeKind{Name: "echo", Schemes: []string{"echo"},
			CheckURL: func(u *url.URL) string {
				if u.Host == "" {
					return "missing word; write echo://word"
				}
				return ""
			},
			Node: func() config.NodeTable { return &echoNode{Say: "ok"} }},
		Prepare: func(*probe.Env, config.Table) (probe.Builder, error) { return echoBuilder{}, nil },
	}
}

type echoBuilder struct{}

func (echoBuilder) Target(n *config.Node, i int) (probe.Target, error) {
	u, err := url.Parse(n.Replicas[i])
	if err != nil {
		return nil, err
	}
	return echoTarget{word: u.Host, want: n.Tables["echo"].(*echoNode).Say}, nil
}
func (echoBuilder) NodeCheck(*config.Node) probe.NodeCheck { return nil }
func (echoBuilder) Close()                                 {}

type echoTarget struct{ word, want string }

func (t echoTarget) Probe(context.Context) probe.Attempt {
	if t.word != t.want {
		return probe.Attempt{Status: status.Dead, Err: "echo " + t.word + ": not " + t.want}
	}
	return probe.Attempt{Status: status.Healthy, Latency: time.Millisecond}
}

// withThrowaways is every built-in kind plus the two of this test, and
// the pager the channel kind builds.
func withThrowaways() (kinds.Set, *pager) {
	set := kinds.All()
	p := &pager{}
	set.Probes = append(set.Probes, echoKind())
	set.Channels = append(set.Channels, notify.NewChannelKind("pager",
		func() *pagerTable { return &pagerTable{Level: 3} },
		func(t *pagerTable, _ notify.Deps) (notify.Notifier, error) {
			p.team = t.Team
			return p, nil
		}))
	return set, p
}

const throwawayConfig = `[server]
inet = "127.0.0.1:0"
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"

[metrics]
poll_interval = 60

[notify]
startup_notification = true

[notify.pager]
team = "ops"

[[probe.service]]
id = "words"

[[probe.service.node]]
id = "good"
mode = "poll"
echo_say = "hello"
replicas = ["echo://hello"]

[[probe.service.node]]
id = "bad"
mode = "poll"
replicas = ["echo://nope"]
`

// TestThrowawayKindsEndToEnd: the throwaway channel and probe kind are
// decoded, checked with file:line errors, built, probed and notified
// through without any other file knowing them.
func TestThrowawayKindsEndToEnd(t *testing.T) {
	set, p := withThrowaways()

	t.Run("validated with file and line", func(t *testing.T) {
		bad := strings.Replace(throwawayConfig, `team = "ops"`, "level = 9", 1)
		bad = strings.Replace(bad, `echo_say = "hello"`, `echo_say = "two words"`, 1)
		bad = strings.Replace(bad, `["echo://nope"]`, `["echo://"]`, 1)
		bad = strings.Replace(bad, `mode = "poll"`, "mode = \"poll\"\necho_sya = 1", 1)
		_, err := config.Parse("throwaway.toml", []byte(bad), nil, set.Config())
		want := []string{
			"throwaway.toml:12: notify.pager.team: required in [notify.pager]; set it, or remove the table",
			"throwaway.toml:13: notify.pager.level: 9: want a level from 1 to 5",
			`throwaway.toml:21: probe.service[0].node[0].echo_sya: unknown key; did you mean "echo_say"?`,
			`throwaway.toml:22: probe.service[0].node[0].echo_say: "two words": one word, please`,
			`throwaway.toml:28: probe.service[0].node[1].replicas[0]: "echo://": missing word; write echo://word`,
		}
		var errs config.Errors
		if !errors.As(err, &errs) {
			t.Fatalf("err = %v, want config.Errors", err)
		}
		got := strings.Split(errs.Error(), "\n")
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("unknown scheme names the new one", func(t *testing.T) {
		_, err := config.Parse("throwaway.toml", []byte(strings.Replace(throwawayConfig, "echo://nope", "ech://nope", 1)), nil, set.Config())
		if err == nil || !strings.Contains(err.Error(), `unknown scheme "ech" (want http, https, tcp, icmp, dns, echo)`) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("probed and notified", func(t *testing.T) {
		cfg, err := config.Parse("throwaway.toml", []byte(throwawayConfig), nil, set.Config())
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(context.Background(), app.Options{Config: cfg, Kinds: set, Store: memory.New()})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Serve(ctx, ln) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()

		deadline := time.Now().Add(10 * time.Second)
		for len(p.messages()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the pager got no start-up notice within 10 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		m := p.messages()[0]
		if p.team != "ops" || m.Kind != notify.Startup || m.Status != status.Dead ||
			len(m.Replicas) != 1 || m.Replicas[0] != "words:bad:echo://nope" {
			t.Errorf("pager for %q got %s %s %v, want the start-up notice naming words:bad:echo://nope", p.team, m.Kind, m.Status, m.Replicas)
		}
		snap := a.Registry.Snapshot()
		good, bad := snap.Services[0].Nodes.At(0).Replicas.At(0), snap.Services[0].Nodes.At(1).Replicas.At(0)
		if good.Status != status.Healthy || bad.Status != status.Dead || bad.Error != "echo nope: not ok" {
			t.Errorf("good %s, bad %s %q", good.Status, bad.Status, bad.Error)
		}
	})
}

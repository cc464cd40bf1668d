package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/notify/email"
	"github.com/overvakt/overvakt/pkg/plugin/rabbitmq"
	"github.com/overvakt/overvakt/pkg/probe/dnsprobe"
	"github.com/overvakt/overvakt/pkg/probe/httpprobe"
	"github.com/overvakt/overvakt/pkg/probe/icmpprobe"
)

func TestDefaults(t *testing.T) {
	text := tokens + `[[probe.service]]
id = "web"
[[probe.service.node]]
id = "core"
mode = "push"
[notify.email]
to = "a@example.com"
from = "b@example.com"
[plugins.icmp]
`
	cfg, err := parse("in-memory.toml", []byte(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.File = "in-memory.toml"
	want.Server.ManagerToken, want.Server.ReporterToken = "manager-token-0123456789", "reporter-token-0123456789"
	want.Notify.Channels = []config.Channel{{Name: "email",
		Table: &email.Table{To: "a@example.com", From: "b@example.com", SMTPHost: "localhost", SMTPPort: 587, SMTPEncrypt: true}}}
	want.Plugins = config.Plugins{"icmp": &icmpprobe.Plugin{Socket: "auto"}}
	want.Probe.Services = []config.Service{{ID: "web", Label: "web", Nodes: []config.Node{{ID: "core", Label: "core", Mode: "push",
		Tables: map[string]config.NodeTable{"http": &httpprobe.Node{TLSExpirySickDays: 14}, "dns": &dnsprobe.Node{}, "rabbitmq": &rabbitmq.Node{}}}}}}
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("got  %+v\nwant %+v", *cfg, want)
	}
}

func TestEmailDefaultsCanBeOverridden(t *testing.T) {
	text := tokens + "[notify.email]\nto = \"a@x\"\nfrom = \"b@x\"\nsmtp_host = \"mail\"\nsmtp_port = 25\nsmtp_encrypt = false\n"
	cfg, err := parse("overvakt.toml", []byte(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Notify.Channels[0].Table.(*email.Table); e.SMTPHost != "mail" || e.SMTPPort != 25 || e.SMTPEncrypt {
		t.Errorf("got %+v", e)
	}
}

func TestLabelsKeptWhenGiven(t *testing.T) {
	text := tokens + "[[probe.service]]\nid = \"web\"\nlabel = \"Website\"\n[[probe.service.node]]\nid = \"n\"\nlabel = \"Frontend\"\nmode = \"local\"\n"
	cfg, err := parse("overvakt.toml", []byte(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Probe.Services[0]; s.Label != "Website" || s.Nodes[0].Label != "Frontend" {
		t.Errorf("got %+v", s)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(good, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(tokens+"workers = -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg, err := load(good)
	if err != nil || cfg.File != good {
		t.Fatalf("load(good) = %+v, %v", cfg, err)
	}

	_, err = load(bad)
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != bad || errs[0].Line != 4 {
		t.Fatalf("load(bad) error = %v", err)
	}

	_, err = load(filepath.Join(dir, "missing.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("load(missing) error = %v, want one wrapping os.ErrNotExist", err)
	}
}

const samplePath = "../../overvakt.toml"

func TestSampleLoads(t *testing.T) {
	cfg, err := load(samplePath)
	if err != nil {
		t.Fatalf("the sample config must load as it is:\n%v", err)
	}
	for _, s := range cfg.Probe.Services {
		for _, n := range s.Nodes {
			for _, r := range n.Replicas {
				if !strings.Contains(r, "[::1]") && !strings.Contains(r, "127.0.0.1") {
					t.Errorf("sample replica %q is not on loopback", r)
				}
			}
		}
	}
}

// optionLine is a commented-out option in the sample: "# key = value",
// "# [table]", "# [[array]]" or a commented array entry.
var optionLine = regexp.MustCompile(`^(\s*)# ((?:[a-z_]+ = .*)|(?:\[\[?[a-z_.]+\]\]?)|(?:"[^"]*",))$`)

// uncommentedSample is the sample with every optional setting switched on.
func uncommentedSample(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		lines[i] = optionLine.ReplaceAllString(l, "$1$2")
	}
	return strings.Join(lines, "\n")
}

// TestSampleShowsEveryOption switches every commented option of the sample
// on: the result must be valid and hold every key of the schema, so the
// sample keeps documenting all of them.
func TestSampleShowsEveryOption(t *testing.T) {
	text := uncommentedSample(t)
	if _, err := parse("uncommented.toml", []byte(text), func(name string) (string, bool) { return "secret-for-" + name, true }); err != nil {
		t.Fatalf("the sample with every option on must be valid:\n%v", err)
	}
	// Any service or node may show a key: compare paths without indexes.
	anyIndex := regexp.MustCompile(`\[\d+\]`)
	shown := map[string]bool{}
	for path := range config.IndexLines(text) {
		shown[anyIndex.ReplaceAllString(path, "[]")] = true
	}
	for _, key := range config.SchemaKeys(kinds.All().Config()) {
		if !shown[anyIndex.ReplaceAllString(key, "[]")] {
			t.Errorf("the sample does not show %s", key)
		}
	}
}

func TestDocsDescribeEveryOption(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, key := range config.SchemaKeys(kinds.All().Config()) {
		name := key[strings.LastIndexAny(key, ".]")+1:]
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/configuration.md does not describe %s", key)
		}
	}
}

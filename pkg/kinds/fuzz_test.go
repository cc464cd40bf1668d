package kinds_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/probe"
)

// tomlString writes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// FuzzReplicaURL feeds any poll replica URL to the config loader and the
// probe kinds: the loader never panics, a URL it accepts is one the kind
// of its scheme can build a check of, and the name the page shows hides
// the URL's password.
func FuzzReplicaURL(f *testing.F) {
	set := kinds.All()
	def := config.Default()
	env := &probe.Env{Metrics: &def.Metrics}
	builders := map[string]probe.Builder{}
	for _, k := range set.Probes {
		b, err := k.Prepare(env, nil)
		if err != nil {
			f.Fatalf("prepare %s: %v", k.Name, err)
		}
		for _, scheme := range k.Schemes {
			builders[scheme] = b
		}
	}
	for _, seed := range []string{
		"https://example.com/health", "http://[::1]:8080/health?x=1#y", "tcp://10.0.0.5:443", "icmp://127.0.0.1",
		"https://admin:s3cret@example.com/", "http://u:p:q@h@x/", "tcp://[::1]", "htp://x", "http:///x", "icmp://h:1",
		"http://a%zz@h/", "tcp://h:0", "tcp://h:65536", "http://[fe80::1%25eth0]:80/", "https://user@example.com:8443",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !utf8.ValidString(raw) {
			return // TOML holds only UTF-8; the loader refuses the file before any replica
		}
		text := "[server]\nmanager_token = \"manager-token-0123456789\"\nreporter_token = \"reporter-token-0123456789\"\n" +
			"[[probe.service]]\nid = \"web\"\n[[probe.service.node]]\nid = \"core\"\nmode = \"poll\"\nreplicas = [" + tomlString(raw) + "]\n"
		cfg, err := config.Parse("f.toml", []byte(text), nil, set.Config())
		if err != nil {
			if strings.Contains(err.Error(), "TOML syntax") {
				t.Fatalf("the TOML written for %q does not parse: %v", raw, err)
			}
			return
		}
		node := &cfg.Probe.Services[0].Nodes[0]
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("accepted %q, which net/url refuses: %v", raw, perr)
		}
		b := builders[u.Scheme]
		if b == nil {
			t.Fatalf("accepted %q, whose scheme no kind probes", raw)
		}
		if _, err := b.Target(node, 0); err != nil {
			t.Fatalf("accepted %q, but its kind cannot build a check: %v", raw, err)
		}
		name := cfg.StatusSpecs()[0].Nodes[0].Replicas[0]
		if pw, set := u.User.Password(); set && pw != "xxxxx" {
			m, err := url.Parse(name)
			if err != nil || m.User == nil {
				t.Fatalf("replica %q is shown as %q, which hides the password by not being a URL: %v", raw, name, err)
			}
			if mpw, _ := m.User.Password(); mpw != "xxxxx" {
				t.Fatalf("replica %q is shown as %q, with password %q", raw, name, mpw)
			}
		}
	})
}

package config

import (
	"strings"
	"testing"
)

func TestMaskPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:s3cret@host.example.com/health", "https://user:xxxxx@host.example.com/health"},
		{"http://u:p@ss@[::1:80", "http://u:xxxxx@[::1:80"}, // does not parse
		{"https://user@host.example.com/", "https://user@host.example.com/"},
		{"https://host.example.com/?q=a:b@c", "https://host.example.com/?q=a:b@c"},
		{"tcp://edge-3.example.net:80", "tcp://edge-3.example.net:80"},
		{"script-1", "script-1"},
		{"ops@host-1", "ops@host-1"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := MaskPassword(tc.in); got != tc.want {
				t.Errorf("MaskPassword(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// Replica names reach the public page and report (reveal_replica_name), so
// the registry must never hold a password.
func TestStatusSpecsHidePasswords(t *testing.T) {
	cfg, err := Parse("t.toml", []byte(`
[server]
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"
[[probe.service]]
id = "s"
[[probe.service.node]]
id = "n"
mode = "poll"
reveal_replica_name = true
replicas = ["https://admin:s3cretpass@example.com/health"]
`), nil, Kinds{Probes: []ProbeKind{{Name: "http", Schemes: []string{"https"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := cfg.StatusSpecs()[0].Nodes[0].Replicas[0]
	if strings.Contains(id, "s3cretpass") || id != "https://admin:xxxxx@example.com/health" {
		t.Fatalf("replica id = %q", id)
	}
}

package config_test

import (
	"testing"
)

func TestTokenScopes(t *testing.T) {
	text := pollNode + `[[probe.service.node]]
id = "hosts"
mode = "push"
[[probe.service]]
id = "db"
[[probe.service.node]]
id = "main"
mode = "push"
[[server.reporter_token_scopes]]
name = "edge agents"
token = "scope-token-0123456789"
allow = ["web:hosts"]
[[server.reporter_token_scopes]]
token = "scope-token-abcdefghij"
allow = ["db"]
`
	cfg, err := parse("overvakt.toml", []byte(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	scopes := cfg.Server.ReporterTokenScopes
	if len(scopes) != 2 || scopes[0].Name != "edge agents" || scopes[1].Name != "reporter_token_scopes[1]" {
		t.Fatalf("scopes = %+v, want the given name and a default one", scopes)
	}
	cases := []struct {
		scope         int
		service, node string
		want          bool
	}{
		{0, "web", "hosts", true},
		{0, "web", "core", false},
		{0, "db", "main", false},
		{1, "db", "main", true},
		{1, "db", "other", true}, // a service covers its nodes
		{1, "dbx", "main", false},
		{1, "web", "hosts", false},
	}
	for _, tc := range cases {
		if got := scopes[tc.scope].Allows(tc.service, tc.node); got != tc.want {
			t.Errorf("scope %d allows %s:%s = %v, want %v", tc.scope, tc.service, tc.node, got, tc.want)
		}
	}
}

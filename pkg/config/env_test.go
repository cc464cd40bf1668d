package config

import (
	"strings"
	"testing"
)

func TestEnvSubstitution(t *testing.T) {
	env := map[string]string{
		"TOKEN":   "s3cr3t",
		"QUOTED":  `say "hi" \ bye`,
		"WORKERS": "8",
		"EMPTY":   "",
		"LINES":   "a\nb",
		"APOS":    "it's",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	tests := []struct {
		name    string
		in      string
		want    string // substituted text
		wantErr string // substring of the error, with its line
	}{
		{"in a string", `a = "${TOKEN}"`, `a = "s3cr3t"`, ""},
		{"bare value", `workers = ${WORKERS}`, `workers = 8`, ""},
		{"several on a line", `a = "${TOKEN}-${WORKERS}"`, `a = "s3cr3t-8"`, ""},
		{"empty but set", `a = "${EMPTY}"`, `a = ""`, ""},
		{"escaped in a basic string", `a = "${QUOTED}"`, `a = "say \"hi\" \\ bye"`, ""},
		{"line break escaped in a basic string", `a = "${LINES}"`, `a = "a\nb"`, ""},
		{"multi-line basic string", "a = \"\"\"\n${QUOTED}\"\"\"", "a = \"\"\"\nsay \\\"hi\\\" \\\\ bye\"\"\"", ""},
		{"literal string is raw", `a = '${QUOTED}'`, `a = 'say "hi" \ bye'`, ""},
		{"literal dollar", `a = "$${TOKEN}"`, `a = "${TOKEN}"`, ""},
		{"lone dollar", `a = "$5 and $x"`, `a = "$5 and $x"`, ""},
		{"comments are left alone", "# token = \"${UNSET}\"\na = 1 # ${UNSET}", "# token = \"${UNSET}\"\na = 1 # ${UNSET}", ""},
		{"hash inside a string is no comment", `a = "#${TOKEN}"`, `a = "#s3cr3t"`, ""},
		{"escaped quote keeps the string open", `a = "\"${TOKEN}"`, `a = "\"s3cr3t"`, ""},
		{"unset", "\n\na = \"${UNSET}\"", "", "overvakt.toml:3: environment variable UNSET is not set (used as ${UNSET})"},
		{"malformed", `a = "${NO SPACE}"`, "", `overvakt.toml:1: "${NO " is not a variable reference`},
		{"unterminated", `a = "${TOKEN`, "", "is not a variable reference"},
		{"line break outside a string", `a = ${LINES}`, "", "overvakt.toml:1: the value of environment variable LINES holds a line break"},
		{"quote in a literal string", `a = '${APOS}'`, "", "the value of environment variable APOS holds ' or a line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := substituteEnv("overvakt.toml", []byte(tt.in), lookup)
			if tt.wantErr != "" {
				if errs == nil || !strings.Contains(errs.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", errs, tt.wantErr)
				}
				return
			}
			if errs != nil {
				t.Fatalf("unexpected error: %v", errs)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestEnvSubstitutionReachesConfig(t *testing.T) {
	env := map[string]string{"MT": `manager"token-0123456`, "RT": "reporter-token-012345", "PORT": "9090"}
	text := `[server]
inet = "127.0.0.1:${PORT}"
manager_token = "${MT}"
reporter_token = '${RT}'
[branding]
page_title = "Costs $${HIGH}"
`
	cfg, err := Parse("overvakt.toml", []byte(text), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Kinds{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.ManagerToken != `manager"token-0123456` || cfg.Server.ReporterToken != "reporter-token-012345" ||
		cfg.Server.Inet != "127.0.0.1:9090" || cfg.Branding.PageTitle != "Costs ${HIGH}" {
		t.Errorf("got %+v %+v", cfg.Server, cfg.Branding)
	}
}

func TestEnvErrorsTogether(t *testing.T) {
	text := "[server]\nmanager_token = \"${A}\"\nreporter_token = \"${B}\"\n"
	_, err := Parse("overvakt.toml", []byte(text), nil, Kinds{})
	errs, _ := err.(Errors)
	if len(errs) != 2 || errs[0].Line != 2 || errs[1].Line != 3 {
		t.Fatalf("want two problems on lines 2 and 3, got:\n%v", errs)
	}
}

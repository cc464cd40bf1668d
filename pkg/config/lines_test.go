package config

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestIndexLines(t *testing.T) {
	text := `# comment [not.a.table]
title = "a # b"               # 2
"quoted key" = 1              # 3
dotted.key.path = true        # 4
multi = """
[not.a.table]
x = 1
"""                           # 5-8
literal = '''
y = 2'''                      # 9-10
after = 1                     # 11

[server]                      # 13
inet = "[::1]:8080"           # 14

[[probe.service]]             # 16
id = "a"                      # 17
[[probe.service.node]]        # 18
id = "n0"                     # 19
replicas = [                  # 20
  "http://x/",                # 21
  # a comment, with [brackets] and "quotes"
  'tcp://y:1',                # 23
]
[[probe.service.node]]        # 25
id = "n1"                     # 26
http_headers = { A = "1", "B C" = { d = 2 } } # 27
[probe.service.node.extra]    # 28
k = 1                         # 29

[[probe.service]]             # 31
id = "b"                      # 32
[[probe.service.node]]        # 33
nested = [[1, 2], [             # 34
  3]]                         # 35
inline = {
  a = 1,                      # 37
  b = [
    "x",                      # 39
  ],
}
tail = "t"                    # 42
`
	want := map[string]int{
		"title":                                 2,
		`"quoted key"`:                          3,
		"dotted":                                4,
		"dotted.key.path":                       4,
		"multi":                                 5,
		"literal":                               9,
		"after":                                 11,
		"server":                                13,
		"server.inet":                           14,
		"probe":                                 16,
		"probe.service[0]":                      16,
		"probe.service[0].id":                   17,
		"probe.service[0].node[0]":              18,
		"probe.service[0].node[0].replicas":     20,
		"probe.service[0].node[0].replicas[0]":  21,
		"probe.service[0].node[0].replicas[1]":  23,
		"probe.service[0].node[1]":              25,
		"probe.service[0].node[1].id":           26,
		"probe.service[0].node[1].http_headers": 27,
		`probe.service[0].node[1].http_headers.A`:       27,
		`probe.service[0].node[1].http_headers."B C".d`: 27,
		"probe.service[0].node[1].extra":                28,
		"probe.service[0].node[1].extra.k":              29,
		"probe.service[1]":                              31,
		"probe.service[1].id":                           32,
		"probe.service[1].node[0]":                      33,
		"probe.service[1].node[0].nested[1][0]":         35,
		"probe.service[1].node[0].inline.a":             37,
		"probe.service[1].node[0].inline.b[0]":          39,
		"probe.service[1].node[0].tail":                 42,
	}
	if _, err := toml.Decode(text, new(map[string]any)); err != nil {
		t.Fatalf("the test text must be valid TOML: %v", err)
	}
	ix := indexLines(text)
	for path, line := range want {
		if got := ix[path]; got != line {
			t.Errorf("%s: line %d, want %d", path, got, line)
		}
	}
	for _, absent := range []string{"not.a.table", "x", "y", "probe.service[2]"} {
		if _, ok := ix[absent]; ok {
			t.Errorf("%s: indexed, but it is inside a string or absent", absent)
		}
	}
}

func TestLineFallsBackToTable(t *testing.T) {
	ix := lineIndex{"probe.service[1]": 7, "probe.service[1].node[0]": 9, `a."b.c"`: 3}
	tests := []struct {
		path string
		want int
	}{
		{"probe.service[1].node[0].replicas[2]", 9},
		{"probe.service[1].node[1].id", 7},
		{"probe.service[0].id", 0},
		{`a."b.c".d`, 3},
		{"", 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := ix.line(tt.path); got != tt.want {
				t.Errorf("line = %d, want %d", got, tt.want)
			}
		})
	}
}

// FuzzIndexLines checks the scanner ends without panicking on any input,
// valid TOML or not.
func FuzzIndexLines(f *testing.F) {
	for _, seed := range []string{
		"[server]\nmanager_token = \"m\"\n[[probe.service]]\nid = \"web\"\n[[probe.service.node]]\nreplicas = [\"https://example.com/\"]\n", `a = "\`, `a = """\`, "[[a]]\n[[a.b]]\n[a.b.c]\nx = [{y = [1, {z = 2}]}]",
		"a = '''x''''", `a = {b = "c\"d", e = [1,`, "[[\n", "= = =", "a.\"b\".'c' = 1",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		indexLines(text)
		substituteEnv("f.toml", []byte(text), func(string) (string, bool) { return "v\"'\n", true })
	})
}

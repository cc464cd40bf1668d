package names

import (
	"strings"
	"testing"
)

func TestProblem(t *testing.T) {
	cases := []struct {
		name, in, want string // want: part of the problem, "" for none
	}{
		{"host name", "db-1.example.com", ""},
		{"address with port", "10.0.0.3:8080", ""},
		{"letters of any script", "Stockholm-Övervakt-東京-Москва", ""},
		{"emoji", "rack 🚀", ""},
		{"replacement character written out", "a\uFFFDb", ""},
		{"empty", "", ""},
		{"newline", "a\nb", "control character U+000A at byte 1"},
		{"DEL", "a\x7f", "control character U+007F"},
		{"C1 control", "a\u0085b", "control character U+0085"},
		{"right-to-left override", "invoice\u202Etxt.exe", "direction-changing character U+202E at byte 7"},
		{"left-to-right mark", "a\u200Eb", "U+200E"},
		{"arabic letter mark", "a\u061Cb", "U+061C"},
		{"first strong isolate", "a\u2068b", "U+2068"},
		{"zero-width space", "db\u200B-1", "U+200B"},
		{"zero-width joiner", "db\u200D-1", "U+200D"},
		{"zero-width non-joiner", "db\u200C-1", "U+200C"},
		{"word joiner", "db\u2060-1", "U+2060"},
		{"byte order mark", "\uFEFFdb-1", "U+FEFF at byte 0"},
		{"soft hyphen", "db\u00AD1", "U+00AD"},
		{"line separator", "a\u2028b", "U+2028"},
		{"paragraph separator", "a\u2029b", "U+2029"},
		{"invalid UTF-8", "db\xff1", "invalid UTF-8 at byte 2"},
		{"truncated UTF-8", "db\xe2\x80", "invalid UTF-8 at byte 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, got := range []string{Problem(tc.in), ProblemBytes([]byte(tc.in))} {
				if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) {
					t.Fatalf("Problem(%q) = %q, want %q", tc.in, got, tc.want)
				}
			}
		})
	}
}

func TestProblemBytesDoesNotAllocate(t *testing.T) {
	b := []byte("web-Övervakt-東京-host-1.example.com")
	if n := testing.AllocsPerRun(100, func() { ProblemBytes(b) }); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

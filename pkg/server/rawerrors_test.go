package server

import (
	"strings"
	"testing"
)

// TestRawErrorAsJSON: only net/http's own error answers are rewritten.
func TestRawErrorAsJSON(t *testing.T) {
	cases := []struct {
		name, in string
		want     string // the rewritten status line, "" when left alone
	}{
		{"bad request", "HTTP/1.1 400 Bad Request" + rawErrorHeaders + "400 Bad Request", "HTTP/1.1 400 Bad Request\r\n"},
		{"bad request with a reason", "HTTP/1.1 400 Bad Request: missing required Host header" + rawErrorHeaders +
			"400 Bad Request: missing required Host header", "HTTP/1.1 400 Bad Request\r\n"},
		{"headers too large", "HTTP/1.1 431 Request Header Fields Too Large" + rawErrorHeaders + "431 Request Header Fields Too Large",
			"HTTP/1.1 431 Request Header Fields Too Large\r\n"},
		{"transfer encoding", "HTTP/1.1 501 Not Implemented" + rawErrorHeaders + "Unsupported transfer encoding",
			"HTTP/1.1 501 Not Implemented\r\n"},
		{"a handler's answer", "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Wed, 02 Dec 2026 08:00:00 GMT\r\nConnection: close\r\n\r\n400 Bad Request", ""},
		{"another body", "HTTP/1.1 400 Bad Request" + rawErrorHeaders + "something else", ""},
		{"a success", "HTTP/1.1 200 OK" + rawErrorHeaders + "200 OK", ""},
		{"a body chunk", "400 Bad Request" + rawErrorHeaders, ""},
		{"empty", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := rawErrorAsJSON([]byte(tc.in))
			if ok != (tc.want != "") {
				t.Fatalf("rewritten: %v, want %v", ok, tc.want != "")
			}
			if ok && (!strings.HasPrefix(string(out), tc.want) || !strings.Contains(string(out), "\r\nContent-Type: application/json; charset=utf-8\r\n") ||
				!strings.HasSuffix(string(out), "\"}\n")) {
				t.Fatalf("rewritten to %q", out)
			}
		})
	}
}

package page

import (
	"html"
	"regexp"
	"strings"
	"testing"
)

// anchor is the one tag Linkify writes.
var anchor = regexp.MustCompile(`<a href="([^"<>]*)" rel="nofollow noopener">([^<>]*)</a>`)

// FuzzLinkify checks the announcement renderer on any text: the only
// markup in its output is links to http(s) URLs written as their own text,
// and taking the links away and unescaping gives the text back.
func FuzzLinkify(f *testing.F) {
	for _, s := range []string{
		"Database maintenance tonight, see https://status.example.com/x.",
		"<script>alert(1)</script> & \"quotes\" 'single'",
		"http://a.example/<b> https://b.example/\"x\" http:// https://",
		"javascript:alert(1) data:text/html,x HTTP://UPPER.example",
		"https://[::1]:8080/p?q=1&r=2#f) and (http://x.example/).",
		"line one\nline two\thttps://t.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out := string(Linkify(text))
		for _, m := range anchor.FindAllStringSubmatch(out, -1) {
			href := html.UnescapeString(m[1])
			if !strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "https://") {
				t.Fatalf("link to %q in %q", href, out)
			}
			if m[1] != m[2] {
				t.Fatalf("link %q shows %q", m[1], m[2])
			}
		}
		plain := anchor.ReplaceAllString(out, "$2")
		if strings.ContainsAny(plain, "<>\"'") {
			t.Fatalf("markup outside links in %q", out)
		}
		// html/template writes NUL as U+FFFD, which browsers would anyway.
		if back := html.UnescapeString(plain); back != strings.ReplaceAll(text, "\x00", "\uFFFD") {
			t.Fatalf("the text shown is %q, want %q", back, text)
		}
	})
}

package markdown

import (
	"strings"
	"testing"
)

func TestHTML(t *testing.T) {
	r := New()
	for _, c := range []struct {
		name, in, want string
	}{
		{"emphasis", "We see *slow* answers, **all** regions.", `<p>We see <em>slow</em> answers, <strong>all</strong> regions.</p>`},
		{"line breaks stay", "First line\nsecond line", "<p>First line<br>\nsecond line</p>"},
		{"a link", "See [the post](https://blog.example.com/x).", `<p>See <a href="https://blog.example.com/x" rel="nofollow">the post</a>.</p>`},
		{"a bare URL", "See https://blog.example.com/x?a=1&b=2 now", `<p>See <a href="https://blog.example.com/x?a=1&amp;b=2" rel="nofollow">https://blog.example.com/x?a=1&amp;b=2</a> now</p>`},
		{"lists", "- one\n- two\n\n1. first\n2. second", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<ol>\n<li>first</li>\n<li>second</li>\n</ol>"},
		{"inline HTML is text", `Tonight <b>22:00</b> <img src=x onerror=alert(1)>`, `<p>Tonight &lt;b&gt;22:00&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt;</p>`},
		{"an HTML block is text", "<script>alert(1)</script>", `<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>`},
		{"a javascript link", "[x](javascript:alert(1))", `<p>x</p>`},
		{"a data link", "[x](data:text/html;base64,PHNjcmlwdD4=)", `<p>x</p>`},
		{"no images", "![logo](https://example.com/logo.png) here", `<p> here</p>`},
		{"headings are text", "# Big\nsmall", "Big\n<p>small</p>"},
		{"code is text", "run `rm -rf`", "<p>run rm -rf</p>"},
		{"quotes in attributes", `[x](https://example.com/"onmouseover="alert(1))`, `<p><a href="https://example.com/%22onmouseover=%22alert(1)" rel="nofollow">x</a></p>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.TrimSpace(string(r.HTML(c.in))); got != c.want {
				t.Errorf("HTML(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

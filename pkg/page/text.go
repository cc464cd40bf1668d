package page

import (
	"html/template"
	"net/url"
	"strings"
)

// Linkify escapes text for HTML and turns http(s) URLs in it into links.
// Line breaks stay as they are; the page shows them with white-space: pre-line.
func Linkify(text string) template.HTML {
	var b strings.Builder
	for text != "" {
		i := nextURL(text)
		if i < 0 {
			b.WriteString(template.HTMLEscapeString(text))
			break
		}
		b.WriteString(template.HTMLEscapeString(text[:i]))
		text = text[i:]
		end := strings.IndexAny(text, " \t\r\n<>\"'`")
		if end < 0 {
			end = len(text)
		}
		// Punctuation that ends a sentence is not part of the URL.
		raw := strings.TrimRight(text[:end], ".,;:!?)]}")
		if u, err := url.Parse(raw); err == nil && u.Host != "" && len(raw) > len(u.Scheme)+3 {
			esc := template.HTMLEscapeString(raw)
			b.WriteString(`<a href="`)
			b.WriteString(esc)
			b.WriteString(`" rel="nofollow noopener">`)
			b.WriteString(esc)
			b.WriteString(`</a>`)
		} else {
			b.WriteString(template.HTMLEscapeString(raw))
		}
		text = text[len(raw):]
	}
	return template.HTML(b.String())
}

// nextURL returns where the next http:// or https:// starts, or -1.
func nextURL(s string) int {
	best := -1
	for _, scheme := range [...]string{"http://", "https://"} {
		if i := strings.Index(s, scheme); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

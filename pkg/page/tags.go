package page

import (
	"html"
	"strings"
)

// tag is a start tag found in the operator's custom_html.
type tag struct {
	name  string      // lower case
	attrs [][2]string // name (lower case) and unescaped value, in source order
	text  string      // what a raw-text element (script, style, …) holds
}

// attr returns the value of the first attribute called name: browsers
// ignore repeats.
func (t *tag) attr(name string) string {
	for _, a := range t.attrs {
		if a[0] == name {
			return a[1]
		}
	}
	return ""
}

// startTags lists the start tags of an HTML fragment the way a browser's
// tokenizer sees them, as far as a content security policy needs: comments,
// end tags and doctypes are skipped, attribute values are unescaped, and
// the content of script, style and the other raw-text elements is kept
// verbatim, after the newline clean-up browsers apply before hashing an
// inline script. golang.org/x/net/html would do too, but it builds entity
// tables at start that the server never needs.
func startTags(src string) []tag {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	var tags []tag
	for {
		lt := strings.IndexByte(src, '<')
		if lt < 0 {
			return tags
		}
		src = src[lt+1:]
		switch {
		case strings.HasPrefix(src, "!--"):
			// "<!-->" and "<!--->" are whole comments, hence the search
			// from the opening dashes.
			end := strings.Index(src[1:], "-->")
			if end < 0 {
				return tags
			}
			src = src[1+end+len("-->"):]
		case strings.HasPrefix(src, "/") && len(src) > 1 && isLetter(src[1]):
			var ok bool
			if _, src, ok = readTag(src[1:]); !ok {
				return tags
			}
		case src != "" && (src[0] == '!' || src[0] == '?' || src[0] == '/'):
			// A doctype, a processing instruction or "</>": up to ">".
			end := strings.IndexByte(src, '>')
			if end < 0 {
				return tags
			}
			src = src[end+1:]
		case src != "" && isLetter(src[0]):
			t, rest, ok := readTag(src)
			if !ok {
				return tags // browsers drop a tag cut off by the end
			}
			if rawText(t.name) {
				t.text, rest = splitAtEndTag(rest, t.name)
			}
			tags = append(tags, t)
			src = rest
		}
		// Anything else: the "<" was text.
	}
}

const space = " \t\n\f"

// readTag reads a tag name and its attributes from src, which starts
// right after "<" or "</"; rest is what follows the closing ">". ok is
// false when src ends inside the tag.
func readTag(src string) (t tag, rest string, ok bool) {
	n := strings.IndexAny(src, space+"/>")
	if n < 0 {
		return t, "", false
	}
	t.name = strings.ToLower(src[:n])
	src = src[n:]
	for {
		// A "/" that does not end the tag counts as a space.
		src = strings.TrimLeft(src, space+"/")
		if src == "" {
			return t, "", false
		}
		if src[0] == '>' {
			return t, src[1:], true
		}
		// An attribute name; a leading "=" is part of it.
		n := strings.IndexAny(src[1:], space+"/>=") + 1
		if n == 0 {
			return t, "", false
		}
		name := strings.ToLower(src[:n])
		src = strings.TrimLeft(src[n:], space)
		value := ""
		if strings.HasPrefix(src, "=") {
			src = strings.TrimLeft(src[1:], space)
			if src == "" {
				return t, "", false
			}
			switch q := src[0]; q {
			case '"', '\'':
				end := strings.IndexByte(src[1:], q)
				if end < 0 {
					return t, "", false
				}
				value, src = src[1:1+end], src[1+end+1:]
			default:
				end := strings.IndexAny(src, space+">")
				if end < 0 {
					return t, "", false
				}
				value, src = src[:end], src[end:]
			}
		}
		t.attrs = append(t.attrs, [2]string{name, html.UnescapeString(value)})
	}
}

// rawText reports whether an element holds text up to its end tag rather
// than markup.
func rawText(name string) bool {
	switch name {
	case "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext":
		return true
	}
	return false
}

// splitAtEndTag splits src at the end tag of the raw-text element name:
// "</name" in any case, followed by a space, "/" or ">". Without one, the
// element runs to the end. (Scripts that hide "</script>" inside
// "<!--<script>" are not told apart; their hash then does not match and
// the browser blocks them, which is the safe side.)
func splitAtEndTag(src, name string) (text, rest string) {
	if name == "plaintext" {
		return src, ""
	}
	for i := 0; ; i += len("</") {
		j := strings.Index(src[i:], "</")
		if j < 0 {
			return src, ""
		}
		i += j
		after := src[i+len("</"):]
		if len(after) > len(name) && strings.EqualFold(after[:len(name)], name) &&
			strings.IndexByte(space+"/>", after[len(name)]) >= 0 {
			if _, rest, ok := readTag(after); ok {
				return src[:i], rest
			}
			return src[:i], ""
		}
	}
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

package config

import "strings"

// MaskPassword replaces the password of a URL's userinfo with "xxxxx", so a
// replica URL can be shown on the page, in messages, logs and errors. It
// works on text that does not parse as a URL too (error messages need it
// most there) and leaves anything without "scheme://user:pass@" alone.
func MaskPassword(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	rest := raw[i+3:]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	at := strings.LastIndexByte(rest, '@')
	colon := strings.IndexByte(rest, ':')
	if at < 0 || colon < 0 || colon > at {
		return raw
	}
	return raw[:i+3+colon+1] + "xxxxx" + raw[i+3+at:]
}

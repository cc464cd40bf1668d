package notify

import "unicode/utf8"

// Channels with a size limit use these to fit a message.

// Shorten moves listed replicas into the "and N more" counts, last names of the
// longer list first, until fits says yes. It keeps one name per list so the
// count stays visible; ok is false when even that does not fit.
func (m *Message) Shorten(fits func(*Message) bool) (short *Message, ok bool) {
	c := *m
	for !fits(&c) {
		r, rec := len(c.Replicas), len(c.Recovered)
		switch {
		case r > 1 && r >= rec:
			c.Replicas, c.More = c.Replicas[:r-1], c.More+1
		case rec > 1:
			c.Recovered, c.RecoveredMore = c.Recovered[:rec-1], c.RecoveredMore+1
		default:
			return &c, false
		}
	}
	return &c, true
}

// CutRunes shortens s to at most max characters, ending in "…".
func CutRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max-1]) + "…"
}

// CutBytes shortens s to at most max bytes on a character boundary, ending in "…".
func CutBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

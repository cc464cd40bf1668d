// Package names says whether a name people will read (a replica name from
// an agent, a label from the config) can be shown as it is: valid UTF-8
// without characters that are invisible or that change how the text
// around them reads.
package names

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Problem says what is wrong with s, or "". Refused are invalid UTF-8,
// control characters (Unicode Cc), format characters (Cf: the bidi
// controls such as U+202E RIGHT-TO-LEFT OVERRIDE, zero-width spaces and
// joiners, U+FEFF) and the line and paragraph separators (Zl, Zp): each
// can make a name look like another, or reorder what is shown next to it.
func Problem(s string) string {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return invalidUTF8(i)
			}
		}
		if Invisible(r) {
			return invisible(r, i)
		}
	}
	return ""
}

// ProblemBytes is Problem for a byte slice; it does not allocate unless
// it finds a problem.
func ProblemBytes(b []byte) string {
	for i := 0; i < len(b); {
		r, size := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			if r, size = utf8.DecodeRune(b[i:]); r == utf8.RuneError && size == 1 {
				return invalidUTF8(i)
			}
		}
		if Invisible(r) {
			return invisible(r, i)
		}
		i += size
	}
	return ""
}

// Invisible reports whether r is a control, format or line/paragraph
// separator character (Unicode Cc, Cf, Zl, Zp).
func Invisible(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

func invalidUTF8(at int) string { return fmt.Sprintf("invalid UTF-8 at byte %d", at) }

func invisible(r rune, at int) string {
	if r < 0x80 || unicode.Is(unicode.Cc, r) {
		return fmt.Sprintf("control character %U at byte %d", r, at)
	}
	return fmt.Sprintf("invisible or direction-changing character %U at byte %d", r, at)
}

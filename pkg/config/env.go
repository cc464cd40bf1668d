package config

import (
	"bytes"
	"fmt"
	"strings"
)

// Where the environment scanner is in the TOML text; substitution has to
// know so it can skip comments and escape values placed inside strings.
type textState uint8

const (
	inCode textState = iota
	inComment
	inBasic        // "..."
	inMultiBasic   // """..."""
	inLiteral      // '...'
	inMultiLiteral // '''...'''
)

// substituteEnv replaces every ${NAME} outside comments with the value of the
// environment variable NAME and every $${ with a literal ${. Inside "..."
// strings the value is escaped, so any value is safe there. Values may not
// hold line breaks outside "..." strings, which keeps line numbers exact.
func substituteEnv(file string, src []byte, lookupEnv func(string) (string, bool)) ([]byte, Errors) {
	if bytes.IndexByte(src, '$') < 0 {
		return src, nil
	}
	var errs Errors
	out := make([]byte, 0, len(src)+64)
	line := 1
	state := inCode
	for i := 0; i < len(src); {
		c := src[i]
		if c == '\n' {
			line++
			if state == inComment || state == inBasic || state == inLiteral {
				state = inCode
			}
			out = append(out, c)
			i++
			continue
		}
		switch state {
		case inComment:
			out = append(out, c)
			i++
			continue
		case inCode:
			switch {
			case c == '#':
				state = inComment
			case bytes.HasPrefix(src[i:], []byte(`"""`)):
				state = inMultiBasic
				out = append(out, `"""`...)
				i += 3
				continue
			case c == '"':
				state = inBasic
			case bytes.HasPrefix(src[i:], []byte(`'''`)):
				state = inMultiLiteral
				out = append(out, `'''`...)
				i += 3
				continue
			case c == '\'':
				state = inLiteral
			}
		case inBasic, inMultiBasic:
			if c == '\\' && i+1 < len(src) {
				if src[i+1] == '\n' {
					line++
				}
				out = append(out, c, src[i+1])
				i += 2
				continue
			}
			if state == inBasic && c == '"' {
				state = inCode
			}
			if state == inMultiBasic && bytes.HasPrefix(src[i:], []byte(`"""`)) {
				n := closingRun(src[i:], '"')
				out = append(out, src[i:i+n]...)
				i += n
				state = inCode
				continue
			}
		case inLiteral:
			if c == '\'' {
				state = inCode
			}
		case inMultiLiteral:
			if bytes.HasPrefix(src[i:], []byte(`'''`)) {
				n := closingRun(src[i:], '\'')
				out = append(out, src[i:i+n]...)
				i += n
				state = inCode
				continue
			}
		}
		if c != '$' {
			out = append(out, c)
			i++
			continue
		}
		if bytes.HasPrefix(src[i:], []byte("$${")) {
			out = append(out, "${"...)
			i += 3
			continue
		}
		if !bytes.HasPrefix(src[i:], []byte("${")) {
			out = append(out, c)
			i++
			continue
		}
		name, end, ok := varRef(src, i)
		if !ok {
			errs = append(errs, Error{File: file, Line: line, Msg: fmt.Sprintf(
				"%q is not a variable reference: write ${NAME} with letters, digits and '_', or $${ for a literal ${",
				src[i:end])})
			out = append(out, src[i:end]...)
			i = end
			continue
		}
		i = end
		val, set := lookupEnv(name)
		if !set {
			errs = append(errs, Error{File: file, Line: line, Msg: fmt.Sprintf(
				"environment variable %s is not set (used as ${%s}); set it, or write $${%s} for a literal ${%s}",
				name, name, name, name)})
			continue
		}
		enc, problem := encodeEnvValue(state, val)
		if problem != "" {
			errs = append(errs, Error{File: file, Line: line, Msg: fmt.Sprintf(
				"the value of environment variable %s %s", name, problem)})
			continue
		}
		out = append(out, enc...)
	}
	return out, errs
}

// closingRun counts the quotes that close a multi-line string: three, plus
// up to two more that belong to the content.
func closingRun[T string | []byte](b T, q byte) int {
	n := 0
	for n < len(b) && n < 5 && b[n] == q {
		n++
	}
	return n
}

// varRef reads ${NAME} at src[i:]. end is where scanning should resume; on
// a malformed reference it stops at the line end or after the first bad byte.
func varRef(src []byte, i int) (name string, end int, ok bool) {
	j := i + 2
	for j < len(src) && isNameByte(src[j], j == i+2) {
		j++
	}
	if j < len(src) && src[j] == '}' && j > i+2 {
		return string(src[i+2 : j]), j + 1, true
	}
	if j < len(src) && src[j] != '\n' {
		j++
	}
	return "", j, false
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9')
}

// encodeEnvValue returns the text to put in place of a reference, or why
// the value cannot go there.
func encodeEnvValue(state textState, val string) (string, string) {
	switch state {
	case inBasic, inMultiBasic:
		return escapeBasic(val), ""
	case inLiteral:
		if strings.ContainsAny(val, "'\r\n") {
			return "", `holds ' or a line break, which a '...' string cannot; use ${...} inside a "..." string`
		}
	case inMultiLiteral:
		if strings.Contains(val, "'''") || strings.ContainsAny(val, "\r\n") {
			return "", `holds ''' or a line break; use ${...} inside a "..." string`
		}
	default:
		if strings.ContainsAny(val, "\r\n") {
			return "", `holds a line break; use ${...} inside a "..." string`
		}
	}
	return val, ""
}

// escapeBasic escapes a value for a TOML "..." string.
func escapeBasic(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '"':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c < 0x20 || c == 0x7f:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

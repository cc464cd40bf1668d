package config

import (
	"strconv"
	"strings"
)

// lineIndex maps key paths such as probe.service[1].node[0].replicas[2] to
// the line that defines them. The TOML decoder keeps positions to itself, so
// a small scanner reads them off the text again. It only runs on text the
// decoder accepted, and is lenient: an odd construct costs a line number,
// never a failure.
type lineIndex map[string]int

// line returns the line of path or, when path is not in the file (a missing
// key), of the nearest table or key that holds it; 0 when none is.
func (ix lineIndex) line(path string) int {
	for path != "" {
		if n, ok := ix[path]; ok {
			return n
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath drops the last ".key" or "[i]" of a path.
func parentPath(path string) string {
	cut, quoted := 0, false
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case (c == '.' || c == '[') && !quoted:
			cut = i
		}
	}
	return path[:cut]
}

// joinKey appends key k to path, quoting it when it is not a bare key.
func joinKey(path, k string) string {
	if !isBareKey(k) {
		k = strconv.Quote(k)
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

// indexKey appends an array index to path.
func indexKey(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isBareByte(k[i]) {
			return false
		}
	}
	return true
}

func isBareByte(c byte) bool {
	return c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// lineScanner walks TOML text recording where keys are defined.
type lineScanner struct {
	s      string
	i      int
	line   int
	index  lineIndex
	arrays map[string]int // [[array]] path -> tables seen so far
}

func indexLines(text string) lineIndex {
	sc := &lineScanner{s: text, line: 1, index: lineIndex{}, arrays: map[string]int{}}
	table := ""
	for {
		sc.skipBlank()
		if sc.i >= len(sc.s) {
			return sc.index
		}
		switch {
		case strings.HasPrefix(sc.s[sc.i:], "[["):
			sc.i += 2
			table = sc.header(sc.key(), true)
		case sc.s[sc.i] == '[':
			sc.i++
			table = sc.header(sc.key(), false)
		default:
			if keys := sc.key(); len(keys) > 0 && sc.equals() {
				sc.value(sc.define(table, keys))
			}
		}
		sc.skipLine()
	}
}

func (sc *lineScanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

// record keeps the first line a path is seen on.
func (sc *lineScanner) record(path string) {
	if _, ok := sc.index[path]; !ok {
		sc.index[path] = sc.line
	}
}

// header resolves a [table] or [[array]] header to its indexed path: each
// prefix that names an array of tables means its latest element.
func (sc *lineScanner) header(keys []string, array bool) string {
	path := ""
	for n, k := range keys {
		path = joinKey(path, k)
		last := n == len(keys)-1
		switch {
		case last && array:
			sc.record(path)
			i := sc.arrays[path]
			sc.arrays[path] = i + 1
			path = indexKey(path, i)
			sc.index[path] = sc.line
		case last:
			sc.index[path] = sc.line // the header wins over an earlier implicit mention
		default:
			if i, ok := sc.arrays[path]; ok {
				path = indexKey(path, i-1)
			}
			sc.record(path)
		}
	}
	return path
}

// define records a (dotted) key under base and returns its full path.
func (sc *lineScanner) define(base string, keys []string) string {
	path := base
	for _, k := range keys {
		path = joinKey(path, k)
		sc.record(path)
	}
	return path
}

// key reads a possibly dotted, possibly quoted key.
func (sc *lineScanner) key() []string {
	var keys []string
	for {
		sc.skipSpace()
		var k string
		switch sc.peek() {
		case '"':
			k = unquoteBasic(sc.basicString())
		case '\'':
			k = sc.literalString()
		default:
			start := sc.i
			for sc.i < len(sc.s) && isBareByte(sc.s[sc.i]) {
				sc.i++
			}
			if sc.i == start {
				return keys
			}
			k = sc.s[start:sc.i]
		}
		keys = append(keys, k)
		sc.skipSpace()
		if sc.peek() != '.' {
			return keys
		}
		sc.i++
	}
}

func (sc *lineScanner) equals() bool {
	sc.skipSpace()
	if sc.peek() != '=' {
		return false
	}
	sc.i++
	sc.skipSpace()
	return true
}

// value skips one value, recording array elements and inline-table keys.
func (sc *lineScanner) value(path string) {
	switch {
	case strings.HasPrefix(sc.s[sc.i:], `"""`):
		sc.multiString(`"""`)
	case strings.HasPrefix(sc.s[sc.i:], `'''`):
		sc.multiString(`'''`)
	case sc.peek() == '"':
		sc.basicString()
	case sc.peek() == '\'':
		sc.literalString()
	case sc.peek() == '[':
		sc.array(path)
	case sc.peek() == '{':
		sc.inlineTable(path)
	default: // number, boolean, date
		for sc.i < len(sc.s) && !strings.ContainsRune(",]}#\n", rune(sc.s[sc.i])) {
			sc.i++
		}
	}
}

func (sc *lineScanner) array(path string) {
	sc.i++ // [
	for n := 0; ; n++ {
		sc.skipBlank()
		if sc.peek() != ']' && sc.i < len(sc.s) {
			elem := indexKey(path, n)
			sc.record(elem)
			sc.value(elem)
			sc.skipBlank()
		}
		switch sc.peek() {
		case ',':
			sc.i++
		case ']':
			sc.i++
			return
		default:
			return
		}
	}
}

func (sc *lineScanner) inlineTable(path string) {
	sc.i++ // {
	for {
		sc.skipBlank() // TOML 1.1 allows line breaks in inline tables
		if sc.peek() == '}' {
			sc.i++
			return
		}
		keys := sc.key()
		if len(keys) == 0 || !sc.equals() {
			return
		}
		sc.value(sc.define(path, keys))
		sc.skipBlank()
		switch sc.peek() {
		case ',':
			sc.i++
		case '}':
			sc.i++
			return
		default:
			return
		}
	}
}

// basicString skips "..." and returns its raw content.
func (sc *lineScanner) basicString() string {
	sc.i++
	start := sc.i
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '\\':
			sc.i += 2
			continue
		case '"':
			sc.i++
			return sc.s[start : sc.i-1]
		case '\n':
			return sc.s[start:sc.i]
		}
		sc.i++
	}
	return sc.s[start:]
}

// literalString skips '...' and returns its content.
func (sc *lineScanner) literalString() string {
	sc.i++
	start := sc.i
	for sc.i < len(sc.s) && sc.s[sc.i] != '\'' && sc.s[sc.i] != '\n' {
		sc.i++
	}
	k := sc.s[start:sc.i]
	if sc.peek() == '\'' {
		sc.i++
	}
	return k
}

// multiString skips a multi-line string (basic or literal), counting its lines.
func (sc *lineScanner) multiString(delim string) {
	sc.i += 3
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == '\\' && delim == `"""`:
			sc.i++
			if sc.peek() == '\n' {
				sc.line++
			}
		case c == '\n':
			sc.line++
		case strings.HasPrefix(sc.s[sc.i:], delim):
			sc.i += closingRun(sc.s[sc.i:], delim[0])
			return
		}
		sc.i++
	}
}

// skipSpace skips blanks within a line.
func (sc *lineScanner) skipSpace() {
	for sc.i < len(sc.s) && (sc.s[sc.i] == ' ' || sc.s[sc.i] == '\t') {
		sc.i++
	}
}

// skipBlank skips blanks, line breaks and comments.
func (sc *lineScanner) skipBlank() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\r':
			sc.i++
		case '\n':
			sc.line++
			sc.i++
		case '#':
			for sc.i < len(sc.s) && sc.s[sc.i] != '\n' {
				sc.i++
			}
		default:
			return
		}
	}
}

// skipLine skips to the start of the next line.
func (sc *lineScanner) skipLine() {
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		sc.i++
		if c == '\n' {
			sc.line++
			return
		}
	}
}

// unquoteBasic decodes the escapes of a "..." key; keys rarely have any.
func unquoteBasic(raw string) string {
	if !strings.ContainsRune(raw, '\\') {
		return raw
	}
	if s, err := strconv.Unquote(`"` + raw + `"`); err == nil {
		return s
	}
	return raw
}

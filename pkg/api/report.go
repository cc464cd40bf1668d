package api

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// report is one decoded reporter body:
//
//	push:  {"replica":"host-1","interval":30,"load":{"cpu":0.42,"ram":0.61}}
//	local: {"replica":"10.0.0.3","interval":120,"health":"sick"}
//
// Absent numbers are NaN (JSON cannot carry NaN, so it is a safe marker).
// Other keys are ignored, as older and newer reporters may send more.
type report struct {
	replica    []byte // aliases the request body or scratch; copy to keep
	hasReplica bool
	interval   float64
	hasLoad    bool
	cpu, ram   float64
	health     []byte
	hasHealth  bool
}

// reportParser decodes a reporter body. It is a small JSON reader for this one
// shape instead of encoding/json because it runs on every report: it does not
// allocate, and its errors name the offending key. Everything it accepts is
// valid JSON (checked against encoding/json by FuzzParseReport).
type reportParser struct {
	b   []byte
	i   int
	err string
	// scratch holds unescaped strings (0: replica, 1: health, 2: keys and
	// ignored values); strings alias b when they have no escapes, which is
	// the common case.
	scratch [3][]byte
}

// maxDepth bounds the nesting of ignored values, so a hostile body cannot
// recurse deeply.
const maxDepth = 32

// parse decodes body into rep. On failure it returns a message for the
// client.
func (p *reportParser) parse(body []byte, rep *report) (errMsg string) {
	*p = reportParser{b: body, scratch: p.scratch}
	*rep = report{interval: math.NaN(), cpu: math.NaN(), ram: math.NaN()}
	p.space()
	if !p.consume('{') {
		return p.fail("the body must be a JSON object like {\"replica\":\"host-1\",\"interval\":30,\"load\":{\"cpu\":0.4,\"ram\":0.6}}")
	}
	p.members(func(key []byte) bool {
		switch string(key) {
		case "replica":
			rep.replica, rep.hasReplica = p.optString("replica", 0)
		case "interval":
			rep.interval = p.optNumber("interval")
		case "health":
			rep.health, rep.hasHealth = p.optString("health", 1)
		case "load":
			rep.hasLoad = p.loadObject(rep)
		default:
			p.skip(0)
		}
		return p.err == ""
	})
	if p.err != "" {
		return p.err
	}
	p.space()
	if p.i != len(p.b) {
		return p.fail("unexpected data after the JSON object")
	}
	return ""
}

// loadObject reads the "load" value: an object with cpu and ram, or null.
// A repeated "load" replaces the earlier one whole, as in encoding/json:
// its cpu and ram are not merged with it.
func (p *reportParser) loadObject(rep *report) bool {
	rep.cpu, rep.ram = math.NaN(), math.NaN()
	if p.null() {
		return false
	}
	if !p.consume('{') {
		p.fail(`"load" must be an object like {"cpu":0.42,"ram":0.61}`)
		return false
	}
	p.members(func(key []byte) bool {
		switch string(key) {
		case "cpu":
			rep.cpu = p.optNumber("load.cpu")
		case "ram":
			rep.ram = p.optNumber("load.ram")
		default:
			p.skip(1)
		}
		return p.err == ""
	})
	return true
}

// members reads `"key": value, …}` after an opening brace, calling each for
// every key with the position on its value.
func (p *reportParser) members(each func(key []byte) bool) {
	p.space()
	if p.consume('}') {
		return
	}
	for {
		p.space()
		key, ok := p.str(2)
		if !ok {
			p.fail("expected a quoted key")
			return
		}
		p.space()
		if !p.consume(':') {
			p.fail("expected ':' after a key")
			return
		}
		p.space()
		if !each(key) {
			return
		}
		p.space()
		if p.consume(',') {
			continue
		}
		if p.consume('}') {
			return
		}
		p.fail("expected ',' or '}' in an object")
		return
	}
}

func (p *reportParser) fail(msg string) string {
	if p.err == "" {
		p.err = "invalid JSON body at byte " + strconv.Itoa(p.i) + ": " + msg
	}
	return p.err
}

func (p *reportParser) failKey(key, want string) {
	if p.err == "" {
		p.err = `"` + key + `" must be ` + want
	}
}

func (p *reportParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *reportParser) consume(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *reportParser) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *reportParser) null() bool { return p.literal("null") }

// optString reads a string value or null (absent).
func (p *reportParser) optString(key string, slot int) ([]byte, bool) {
	if p.null() {
		return nil, false
	}
	if p.i < len(p.b) && p.b[p.i] != '"' {
		p.failKey(key, "a string")
		return nil, false
	}
	s, ok := p.str(slot)
	if !ok {
		p.fail("bad string")
		return nil, false
	}
	return s, true
}

// optNumber reads a number value or null (NaN).
func (p *reportParser) optNumber(key string) float64 {
	if p.null() {
		return math.NaN()
	}
	start := p.i
	if !p.number() {
		if p.i == start && p.i < len(p.b) && isValueStart(p.b[p.i]) {
			p.failKey(key, "a number")
		} else {
			p.fail("bad number")
		}
		return math.NaN()
	}
	f, ok := parseFloat(p.b[start:p.i])
	if !ok {
		p.failKey(key, "a number in range")
		return math.NaN()
	}
	return f
}

func isValueStart(c byte) bool {
	switch c {
	case '"', '{', '[', 't', 'f':
		return true
	}
	return false
}

// str reads a JSON string at the position. Without escapes the result
// aliases the body; with escapes it is decoded into scratch[slot]. Invalid
// UTF-8 is kept as is (the caller validates names).
func (p *reportParser) str(slot int) ([]byte, bool) {
	if !p.consume('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\':
			return p.escapedStr(start, slot)
		case c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// escapedStr finishes a string that has escapes, decoding into scratch.
func (p *reportParser) escapedStr(start, slot int) ([]byte, bool) {
	out := append(p.scratch[slot][:0], p.b[start:p.i]...)
	defer func() { p.scratch[slot] = out[:0] }()
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return out, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		p.i++ // the backslash
		if p.i >= len(p.b) {
			return nil, false
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by an escaped low one is one
				// character; a lone half becomes U+FFFD, as in encoding/json.
				r2 := rune(-1)
				if len(p.b)-p.i >= 6 && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if v, ok := p.hex4(); ok {
						r2 = v
					} else {
						return nil, false
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
					} else {
						p.i = save // not a pair: the second escape stands alone
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func (p *reportParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// number moves over a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *reportParser) number() bool {
	p.consume('-')
	switch {
	case p.consume('0'):
	case p.i < len(p.b) && '1' <= p.b[p.i] && p.b[p.i] <= '9':
		p.digits()
	default:
		return false
	}
	if p.consume('.') && !p.digits() {
		return false
	}
	if p.consume('e') || p.consume('E') {
		if !p.consume('+') {
			p.consume('-')
		}
		if !p.digits() {
			return false
		}
	}
	return true
}

// digits moves over one or more digits.
func (p *reportParser) digits() bool {
	start := p.i
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// skip moves over any JSON value (an ignored key's).
func (p *reportParser) skip(depth int) {
	if depth > maxDepth {
		p.fail("ignored value nested too deeply")
		return
	}
	if p.i >= len(p.b) {
		p.fail("unexpected end of body")
		return
	}
	switch c := p.b[p.i]; {
	case c == '"':
		if _, ok := p.str(2); !ok {
			p.fail("bad string")
		}
	case c == '{':
		p.i++
		p.members(func([]byte) bool {
			p.skip(depth + 1)
			return p.err == ""
		})
	case c == '[':
		p.i++
		p.space()
		if p.consume(']') {
			return
		}
		for {
			p.space()
			p.skip(depth + 1)
			if p.err != "" {
				return
			}
			p.space()
			if p.consume(',') {
				continue
			}
			if p.consume(']') {
				return
			}
			p.fail("expected ',' or ']' in an array")
			return
		}
	case c == 't':
		if !p.literal("true") {
			p.fail("bad literal")
		}
	case c == 'f':
		if !p.literal("false") {
			p.fail("bad literal")
		}
	case c == 'n':
		if !p.null() {
			p.fail("bad literal")
		}
	default:
		if !p.number() {
			p.fail("expected a value")
		}
	}
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat converts a valid JSON number. Short decimals such as 0.42 or 30
// take an exact fast path (mantissa below 2^53 and a power of ten float64
// holds exactly, so one correctly rounded operation gives the correctly
// rounded result); anything else goes to strconv. It fails when the number
// is out of float64 range.
func parseFloat(b []byte) (float64, bool) {
	var mant uint64
	exp, digits := 0, 0
	neg, i := false, 0
	if b[0] == '-' {
		neg, i = true, 1
	}
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		mant = mant*10 + uint64(b[i]-'0')
		digits++
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			mant = mant*10 + uint64(b[i]-'0')
			digits++
			exp--
		}
	}
	if i == len(b) && digits <= 15 && -exp < len(pow10) {
		f := float64(mant) / pow10[-exp]
		if neg {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

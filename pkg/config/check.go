package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Check collects the problems of one table of a config file, placing each
// at the line of its key. Keys given to its methods are relative to the
// table: "hook_url", "args[1]", "http_headers.X-Token".
type Check struct {
	file    string
	lines   lineIndex
	errs    *Errors
	prefix  string           // key path of the table, with a trailing "."; "" at the top
	table   string           // the table as written in the file: "[notify.slack]"
	plugins map[string]Table // the file's [plugins.*] tables, for Plugin
}

// newCheck returns the check of the file's top level.
func newCheck(file string, lines lineIndex, errs *Errors) *Check {
	return &Check{file: file, lines: lines, errs: errs}
}

// sub returns a check for the table at path, written as table in messages
// ("[notify.slack]"; "" for tables that are not written as headers).
func (c *Check) sub(path, table string) *Check {
	s := *c
	s.prefix = joinPrefix(c.prefix, path)
	if table != "" {
		s.table = table
	}
	return &s
}

func joinPrefix(prefix, path string) string {
	if path == "" {
		return prefix
	}
	return prefix + path + "."
}

// Key is the full key path of a key of the table.
func (c *Check) Key(key string) string { return strings.TrimSuffix(c.prefix+key, ".") }

// Line is the line of a key of the table (of the nearest table that holds it
// when the key is not in the file); 0 when unknown.
func (c *Check) Line(key string) int { return c.lines.line(c.Key(key)) }

// Has reports whether the file sets key.
func (c *Check) Has(key string) bool {
	_, ok := c.lines[c.Key(key)]
	return ok
}

// Fail reports a problem with key.
func (c *Check) Fail(key, format string, args ...any) {
	full := c.Key(key)
	*c.errs = append(*c.errs, Error{File: c.file, Line: c.lines.line(full), Key: full, Msg: fmt.Sprintf(format, args...)})
}

// Plugin returns the file's [plugins.<name>] table, or nil when it has none.
func (c *Check) Plugin(name string) Table { return c.plugins[name] }

// Required reports an empty value.
func (c *Check) Required(key, val string) {
	if val == "" {
		c.Fail(key, "required in %s; set it, or remove the table", c.table)
	}
}

// RequiredList reports an empty list and empty entries; example shows a
// good value ("to = [\"+15551234567\"]").
func (c *Check) RequiredList(key string, vals []string, example string) {
	if len(vals) == 0 {
		c.Fail(key, "required in %s: list at least one, e.g. %s", c.table, example)
	}
	for i, s := range vals {
		if s == "" {
			c.Fail(indexKey(key, i), "empty entry; remove it or fill it in")
		}
	}
}

// RequiredURL reports an empty value or one that is no absolute http(s) URL.
func (c *Check) RequiredURL(key, val string) {
	if val == "" {
		c.Required(key, val)
		return
	}
	c.URL(key, val)
}

// URL reports a value that is set but is no absolute http(s) URL.
func (c *Check) URL(key, val string) {
	if val != "" && !IsHTTPURL(val) {
		c.Fail(key, "%q: want an absolute http:// or https:// URL, like https://example.com/", val)
	}
}

// SecretURL is RequiredURL for a URL that is itself a secret (a webhook
// with its token in the path): the message does not quote it.
func (c *Check) SecretURL(key, val, what string) {
	switch {
	case val == "":
		c.Required(key, val)
	case !IsHTTPURL(val):
		c.Fail(key, "want an absolute http:// or https:// URL (%s); the value is not shown because it holds a secret", what)
	}
}

// IsHTTPURL reports whether s is an absolute http:// or https:// URL with a host.
func IsHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Positive reports a number that is not above 0.
func (c *Check) Positive(key string, n float64) {
	if !(n > 0) {
		c.Fail(key, "%v: must be greater than 0", n)
	}
}

// Interval reports a number of seconds outside MinInterval..MaxInterval.
func (c *Check) Interval(key string, s Seconds) {
	if !(s.Duration() >= MinInterval && s.Duration() <= MaxInterval) {
		c.Fail(key, "%v: want an interval from %v to %v seconds (7 days)", float64(s), MinInterval.Seconds(), MaxInterval.Seconds())
	}
}

// NotNegative reports a number below 0.
func (c *Check) NotNegative(key string, n float64) {
	if n < 0 || math.IsNaN(n) {
		c.Fail(key, "%v: must not be negative", n)
	}
}

// OneOf reports a value that is not one of allowed; what names the value
// in the message ("log level").
func (c *Check) OneOf(key, val, what string, allowed ...string) {
	if slices.Contains(allowed, val) {
		return
	}
	if val == "" {
		c.Fail(key, "required: set one of %s", strings.Join(allowed, ", "))
		return
	}
	c.Fail(key, "unknown %s %q (want %s)", what, val, strings.Join(allowed, ", "))
}

// HostPort reports a value set but not host:port with a numeric port;
// example shows a good one.
func (c *Check) HostPort(key, val, example string) {
	if val == "" {
		return
	}
	if host, port, err := net.SplitHostPort(val); err != nil || host == "" || !IsPort(port, false) {
		c.Fail(key, "%q: want host:port, like %s", val, example)
	}
}

// Port reports a TCP port outside 1..65535; usual names a common one.
func (c *Check) Port(key string, port int, usual string) {
	if port < 1 || port > 65535 {
		c.Fail(key, "%d: want a TCP port between 1 and 65535 (%s is usual)", port, usual)
	}
}

// IsPort reports whether s is a decimal TCP port; 0 (any free port) only when zeroOK.
func IsPort(s string, zeroOK bool) bool {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(s)
	return n <= 65535 && (n > 0 || zeroOK)
}

// IsHeaderName reports whether s is an HTTP token (RFC 9110), as a header
// name or method must be.
func IsHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// IndexKey appends an array index to a key: IndexKey("args", 1) is "args[1]".
func IndexKey(key string, i int) string { return indexKey(key, i) }

// JoinKey appends a sub-key, quoting it when it is not a bare TOML key.
func JoinKey(key, sub string) string { return joinKey(key, sub) }

// CheckTable runs a kind's table check on its own, as the loader does, with
// keys under path ("notify.slack"); plugins are the [plugins.*] tables a
// node table may ask for. Problems have no file or line.
func CheckTable(path string, t Table, plugins Plugins) Errors {
	var errs Errors
	c := newCheck("", lineIndex{}, &errs)
	c.plugins = plugins
	sub := c.sub(path, "["+path+"]")
	switch t := t.(type) {
	case NodeTable:
		t.CheckNode(sub, &Node{})
	default:
		t.Check(sub)
	}
	return errs
}

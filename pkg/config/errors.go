package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem found in a config file.
type Error struct {
	File string // the path given to Load or Parse
	Line int    // 1-based; 0 when the problem has no place in the file
	Key  string // key path such as probe.service[1].node[0].replicas[2]; empty for file-level problems
	Msg  string // what is wrong and how to fix it
}

// Error formats as "file:line: key: message", leaving out the parts that are unknown.
func (e Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order. Parse and Load
// return it as their error, so callers can use errors.As to inspect it.
type Errors []Error

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortErrors orders problems by line, keeping the order they were found in
// on the same line.
func sortErrors(es Errors) {
	slices.SortStableFunc(es, func(a, b Error) int { return cmp.Compare(a.Line, b.Line) })
}

package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// decoder copies the decoded TOML tree into the Config structs by their
// toml tags. Doing it here rather than in the TOML library lets one pass
// report every unknown key and wrong type with its indexed path and line,
// and keep going.
type decoder struct {
	file  string
	lines lineIndex
	errs  Errors
	kinds *Kinds // owners of the [notify.*], [plugins.*] and node tables
}

func (d *decoder) fail(key, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: d.lines.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

var (
	secondsType  = reflect.TypeFor[Seconds]()
	durationType = reflect.TypeFor[Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	pluginsType  = reflect.TypeFor[Plugins]()
	notifyType   = reflect.TypeFor[Notify]()
	nodeType     = reflect.TypeFor[Node]()
	dynamicType  = reflect.TypeFor[Dynamic]()
)

// defaulter is a table type that fills its own defaults before its keys are
// decoded; used by optional tables that are nil until they appear.
type defaulter interface{ setDefaults() }

// table fills the struct rv from m. Keys the struct does not have may
// belong to a kind: a channel's table under [notify], a probe kind's keys
// on a node.
func (d *decoder) table(path string, m map[string]any, rv reflect.Value) {
	fields := tomlFields(rv.Type())
	for _, k := range sortedKeys(m) {
		key := joinKey(path, k)
		if idx, ok := fields[k]; ok {
			d.value(key, m[k], rv.FieldByIndex(idx))
			continue
		}
		switch rv.Type() {
		case notifyType:
			if ck := d.kinds.channel(k); ck != nil {
				d.channel(key, m[k], ck, rv.Addr().Interface().(*Notify))
				continue
			}
		case nodeType:
			if d.nodeKey(key, k, m[k], rv.Addr().Interface().(*Node)) {
				continue
			}
		case dynamicType:
			if d.nodeKey(key, k, m[k], &rv.Addr().Interface().(*Dynamic).Node) {
				continue
			}
		}
		d.fail(key, "%s", unknownKeyMsg(k, d.knownKeys(rv.Type(), fields)))
	}
}

// channel decodes a [notify.<name>] table.
func (d *decoder) channel(path string, v any, ck *ChannelKind, n *Notify) {
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "want a table, got %s", describe(v))
		return
	}
	t := ck.Table()
	d.table(path, m, reflect.ValueOf(t).Elem())
	n.Channels = append(n.Channels, Channel{Name: ck.Name, Table: t})
}

// nodeKey decodes key k of a node into the table of the probe kind that
// owns it, and reports whether one does.
func (d *decoder) nodeKey(path, k string, v any, n *Node) bool {
	for _, pk := range d.kinds.Probes {
		if pk.Node == nil {
			continue
		}
		t := n.Tables[pk.Name]
		if t == nil {
			t = pk.Node()
		}
		rv := reflect.ValueOf(t).Elem()
		idx, ok := tomlFields(rv.Type())[k]
		if !ok {
			continue
		}
		if n.Tables == nil {
			n.Tables = map[string]NodeTable{}
		}
		n.Tables[pk.Name] = t
		d.value(path, v, rv.FieldByIndex(idx))
		return true
	}
	return false
}

// plugins decodes [plugins]: one table per probe kind that has one.
func (d *decoder) plugins(path string, v any, rv reflect.Value) {
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "want a table, got %s", describe(v))
		return
	}
	out := Plugins{}
	for _, k := range sortedKeys(m) {
		key := joinKey(path, k)
		pk := d.kinds.plugin(k)
		if pk == nil {
			d.fail(key, "%s", unknownKeyMsg(k, d.knownKeys(pluginsType, nil)))
			continue
		}
		tm, ok := m[k].(map[string]any)
		if !ok {
			d.fail(key, "want a table, got %s", describe(m[k]))
			continue
		}
		t := pk.Plugin()
		d.table(key, tm, reflect.ValueOf(t).Elem())
		out[k] = t
	}
	rv.Set(reflect.ValueOf(out))
}

// knownKeys are the keys a table of type t may hold: its fields, and the
// kinds' tables or keys that may appear in it.
func (d *decoder) knownKeys(t reflect.Type, fields map[string][]int) []string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	switch t {
	case notifyType:
		for _, ck := range d.kinds.Channels {
			names = append(names, ck.Name)
		}
	case pluginsType:
		for _, pk := range d.kinds.Probes {
			if pk.Plugin != nil {
				names = append(names, pk.Name)
			}
		}
	case nodeType, dynamicType:
		for _, pk := range d.kinds.Probes {
			if pk.Node != nil {
				for name := range tomlFields(reflect.TypeOf(pk.Node()).Elem()) {
					names = append(names, name)
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// value sets rv from the TOML value v.
func (d *decoder) value(path string, v any, rv reflect.Value) {
	if rv.Type() == pluginsType {
		d.plugins(path, v, rv)
		return
	}
	if rv.Type() == timeType {
		t, ok := v.(time.Time)
		if !ok {
			d.fail(path, "want a date and time like 2026-12-05T22:00:00Z (no quotes; with its offset), got %s", describe(v))
			return
		}
		rv.Set(reflect.ValueOf(t))
		return
	}
	if rv.Type() == durationType {
		switch n := v.(type) {
		case string:
			dur, err := ParseDuration(n)
			if err != nil {
				d.fail(path, "%v", err)
				return
			}
			rv.SetInt(int64(dur))
		case int64:
			rv.SetInt(int64(time.Duration(n) * time.Second))
		default:
			d.fail(path, "want a duration like \"48h\" or \"400d\", got %s", describe(v))
		}
		return
	}
	if rv.Type() == secondsType {
		switch n := v.(type) {
		case int64:
			rv.SetFloat(float64(n))
		case float64:
			rv.SetFloat(n)
		default:
			d.fail(path, "want a number of seconds (like 10 or 0.5), got %s", describe(v))
		}
		return
	}
	switch rv.Kind() {
	case reflect.String:
		if s, ok := v.(string); ok {
			rv.SetString(s)
			return
		}
		d.fail(path, "want a string, got %s", describe(v))
	case reflect.Int:
		if n, ok := v.(int64); ok {
			rv.SetInt(n)
			return
		}
		d.fail(path, "want an integer, got %s", describe(v))
	case reflect.Float64:
		switch n := v.(type) {
		case int64:
			rv.SetFloat(float64(n))
		case float64:
			rv.SetFloat(n)
		default:
			d.fail(path, "want a number, got %s", describe(v))
		}
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			rv.SetBool(b)
			return
		}
		d.fail(path, "want true or false, got %s", describe(v))
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Struct {
			d.tableArray(path, v, rv)
			return
		}
		items, ok := v.([]any)
		if !ok {
			d.fail(path, "want an array, got %s", describe(v))
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(items), len(items))
		for i, item := range items {
			d.value(indexKey(path, i), item, s.Index(i))
		}
		rv.Set(s)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			d.fail(path, "want a table, got %s", describe(v))
			return
		}
		out := reflect.MakeMapWithSize(rv.Type(), len(m))
		for _, k := range sortedKeys(m) {
			ev := reflect.New(rv.Type().Elem()).Elem()
			d.value(joinKey(path, k), m[k], ev)
			out.SetMapIndex(reflect.ValueOf(k), ev)
		}
		rv.Set(out)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			d.fail(path, "want a table, got %s", describe(v))
			return
		}
		d.table(path, m, rv)
	case reflect.Pointer:
		if rv.Type().Elem().Kind() != reflect.Struct {
			// An optional value: nil when the file is silent.
			p := reflect.New(rv.Type().Elem())
			d.value(path, v, p.Elem())
			rv.Set(p)
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			d.fail(path, "want a table, got %s", describe(v))
			return
		}
		p := reflect.New(rv.Type().Elem())
		if df, ok := p.Interface().(defaulter); ok {
			df.setDefaults()
		}
		d.table(path, m, p.Elem())
		rv.Set(p)
	default: // a schema field type this decoder does not know yet
		d.fail(path, "internal error: cannot decode into %s", rv.Type())
	}
}

// tableArray decodes [[x]] tables, or an array of inline tables.
func (d *decoder) tableArray(path string, v any, rv reflect.Value) {
	var tables []map[string]any
	switch t := v.(type) {
	case []map[string]any:
		tables = t
	case []any:
		for i, item := range t {
			m, ok := item.(map[string]any)
			if !ok {
				d.fail(indexKey(path, i), "want a table, got %s", describe(item))
				continue
			}
			tables = append(tables, m)
		}
	default:
		d.fail(path, "want tables ([[%s]]), got %s", path, describe(v))
		return
	}
	s := reflect.MakeSlice(rv.Type(), len(tables), len(tables))
	for i, m := range tables {
		d.table(indexKey(path, i), m, s.Index(i))
	}
	rv.Set(s)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tomlFields maps the toml tags of a struct type to field indexes. The
// fields of an embedded struct without a tag count as the struct's own, as
// in encoding/json.
func tomlFields(t reflect.Type) map[string][]int {
	fields := make(map[string][]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for inner, idx := range tomlFields(f.Type) {
				fields[inner] = append([]int{i}, idx...)
			}
			continue
		}
		if name != "" && name != "-" {
			fields[name] = []int{i}
		}
	}
	return fields
}

// unknownKeyMsg suggests the closest known key, or lists them all.
func unknownKeyMsg(k string, names []string) string {
	best, bestDist := "", min(2, max(1, len(k)/3))+1
	for _, name := range names {
		if dist := editDistance(k, name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", best)
	}
	return "unknown key; remove it or use one of: " + strings.Join(names, ", ")
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describe names a TOML value's type, with the value for scalars.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case time.Time:
		return "datetime " + v.Format(time.RFC3339)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("%T", v)
	}
}

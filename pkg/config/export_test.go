package config

import (
	"reflect"
	"strings"
	"time"
)

// IndexLines is indexLines, for the tests of package config_test.
var IndexLines = indexLines

// SchemaKeys lists every key path of a server config with these kinds, with
// [0] for arrays of tables: the core schema, each channel's table, each
// plugin table and each kind's node keys.
func SchemaKeys(k Kinds) []string {
	keys := structKeys("", reflect.TypeFor[Config]())
	for _, ck := range k.Channels {
		keys = append(keys, structKeys(joinKey("notify", ck.Name), reflect.TypeOf(ck.Table()).Elem())...)
	}
	for _, pk := range k.Probes {
		if pk.Plugin != nil {
			keys = append(keys, structKeys(joinKey("plugins", pk.Name), reflect.TypeOf(pk.Plugin()).Elem())...)
		}
		if pk.Node != nil {
			keys = append(keys, structKeys("probe.service[0].node[0]", reflect.TypeOf(pk.Node()).Elem())...)
		}
	}
	return keys
}

// structKeys lists the key paths of a struct type.
func structKeys(path string, t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			keys = append(keys, structKeys(path, f.Type)...)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		key := joinKey(path, name)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]():
			keys = append(keys, structKeys(key, ft)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, structKeys(indexKey(key, 0), ft.Elem())...)
		case ft == reflect.TypeFor[Plugins]():
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

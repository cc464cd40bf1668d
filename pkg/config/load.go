package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads and checks the server config file at path, taking ${VAR}
// values from the process environment. kinds are the probe kinds and
// channels whose tables the file may hold (pkg/kinds has the list). A
// config problem comes back as Errors.
func Load(path string, kinds Kinds) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, os.LookupEnv, kinds)
}

// Parse checks the config text data, naming it file in messages and File.
// ${VAR} references are filled from lookupEnv before the TOML is parsed (a
// nil lookupEnv treats every variable as unset).
// The result has every default applied and empty labels set to the id. All
// problems found are returned together as Errors, in file order.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool), kinds Kinds) (*Config, error) {
	cfg := Default()
	err := parseInto(file, data, lookupEnv, &kinds, &cfg, func(c *Check) {
		c.plugins = cfg.Plugins
		validate(c, &kinds, &cfg)
	})
	if err != nil {
		return nil, err
	}
	cfg.File = file
	if !filepath.IsAbs(cfg.Storage.Path) {
		cfg.Storage.Path = filepath.Join(filepath.Dir(file), cfg.Storage.Path)
	}
	for i := range cfg.Server.ReporterTokenScopes {
		if sc := &cfg.Server.ReporterTokenScopes[i]; sc.Name == "" {
			sc.Name = indexKey("reporter_token_scopes", i)
		}
	}
	for i := range cfg.Probe.Services {
		svc := &cfg.Probe.Services[i]
		if svc.Label == "" {
			svc.Label = svc.ID
		}
		for j := range svc.Nodes {
			if n := &svc.Nodes[j]; n.Label == "" {
				n.Label = n.ID
			}
		}
	}
	return &cfg, nil
}

// parseInto is what every file of Övervakt goes through: ${VAR}
// substitution, TOML syntax, decoding into the struct dst points to (which
// holds the defaults) with every unknown key and wrong type reported, and
// then validate. Problems come back sorted by line.
func parseInto(file string, data []byte, lookupEnv func(string) (string, bool), kinds *Kinds, dst any, validate func(*Check)) error {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark some editors write
	text, errs := substituteEnv(file, data, lookupEnv)
	if len(errs) > 0 {
		return errs
	}
	var tree map[string]any
	if _, err := toml.Decode(string(text), &tree); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Errors{{File: file, Line: pe.Position.Line, Msg: "TOML syntax: " + pe.Message}}
		}
		return Errors{{File: file, Msg: "TOML syntax: " + err.Error()}}
	}

	lines := indexLines(string(text))
	d := decoder{file: file, lines: lines, kinds: kinds}
	d.table("", tree, reflect.ValueOf(dst).Elem())
	var checked Errors
	validate(newCheck(file, lines, &checked))
	errs = append(d.errs, withoutKeys(checked, d.errs)...)
	if len(errs) > 0 {
		sortErrors(errs)
		return errs
	}
	return nil
}

// withoutKeys drops the problems at or under a key that already has one,
// so a value of the wrong type is not also reported as missing.
func withoutKeys(es, reported Errors) Errors {
	out := es[:0]
next:
	for _, e := range es {
		for _, r := range reported {
			if e.Key == r.Key || strings.HasPrefix(e.Key, r.Key+".") || strings.HasPrefix(e.Key, r.Key+"[") {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

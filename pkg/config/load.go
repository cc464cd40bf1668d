package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads and checks the config file at path, taking ${VAR} values from
// the process environment. A config problem comes back as Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse checks the config text data, naming it file in messages and File.
// ${VAR} references are filled from lookupEnv before the TOML is parsed (a
// nil lookupEnv treats every variable as unset).
// The result has every default applied and empty labels set to the id. All
// problems found are returned together as Errors, in file order.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark some editors write
	text, errs := substituteEnv(file, data, lookupEnv)
	if len(errs) > 0 {
		return nil, errs
	}
	var tree map[string]any
	if _, err := toml.Decode(string(text), &tree); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{{File: file, Line: pe.Position.Line, Msg: "TOML syntax: " + pe.Message}}
		}
		return nil, Errors{{File: file, Msg: "TOML syntax: " + err.Error()}}
	}

	lines := indexLines(string(text))
	cfg := Default()
	d := decoder{file: file, lines: lines}
	d.table("", tree, reflect.ValueOf(&cfg).Elem())
	errs = append(d.errs, withoutKeys(validate(file, lines, &cfg), d.errs)...)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}

	cfg.File = file
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

// setDefaults fills what [notify.email] means when a key is left out.
func (e *Email) setDefaults() {
	e.SMTPHost = "localhost"
	e.SMTPPort = 587
	e.SMTPEncrypt = true
}

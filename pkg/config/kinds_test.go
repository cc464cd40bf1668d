package config_test

import (
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
)

// parse is config.Parse with every kind, as the server loads its file.
func parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*config.Config, error) {
	return config.Parse(file, data, lookupEnv, kinds.All().Config())
}

// load is config.Load with every kind.
func load(path string) (*config.Config, error) { return config.Load(path, kinds.All().Config()) }

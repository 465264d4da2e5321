package server

import (
	"errors"
	"fmt"

	"github.com/needle-router/needle/internal/config"
	"github.com/needle-router/needle/internal/registry/etcdstore"
)

// Config is the router process's configuration (internal/config: one table of options).
type Config = config.Config

// Defaults is the Config with every documented default.
func Defaults() Config { return config.Defaults() }

// Load is config.Load with the --store URL checked by the store that opens it (the config
// package links no store client).
func Load(args []string, getenv func(string) string) (Config, error) {
	c, err := config.Load(args, getenv)
	if c.Store != "" {
		if _, serr := etcdstore.ParseURL(c.Store); serr != nil {
			err = errors.Join(err, fmt.Errorf("--store: %w", serr))
		}
	}
	return c, err
}

package server

import (
	"pail/internal/config"
	"pail/internal/sieve"
)

// sieveOptions are the compile options of users' scripts under cfg.
func sieveOptions(cfg *config.Config) sieve.Options {
	return sieve.Options{Limits: sieve.Limits{MaxScriptBytes: cfg.Sieve.MaxScriptBytes, MaxRedirects: cfg.Sieve.MaxRedirects}}
}

package main

import (
	"flag"
	"fmt"

	"pail/internal/server"
)

func cmdStatus(e *env, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asMetrics := fs.Bool("metrics", false, "print the Prometheus metrics instead")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "status [--metrics]"); err != nil {
		return err
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	path := "/status"
	if *asMetrics {
		path = "/metrics"
	}
	out, err := server.FetchStatus(e.ctx, cfg.DataDir, path)
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, out)
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"pail/internal/server"
)

// shutdownGrace is how long sessions mid-transaction get to finish after
// SIGTERM or SIGINT.
const shutdownGrace = 30 * time.Second

func cmdServe(e *env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "serve [-c FILE]"); err != nil {
		return err
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	var level slog.LevelVar // changes on reload
	level.UnmarshalText([]byte(cfg.Log.Level))
	var handler slog.Handler = slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: &level})
	if cfg.Log.Format == "json" {
		handler = slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: &level})
	}
	log := slog.New(handler)

	stopProfile, err := startProfiling(log)
	if err != nil {
		return err
	}
	defer stopProfile()

	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := server.New(ctx, cfg, server.Options{Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "pail: serving %v as %s, data in %s\n", cfg.Domains, cfg.Hostname, cfg.DataDir)
	srv.Start(e.stderr)
	// SIGHUP reloads the configuration and certificates without dropping
	// connections.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var runErr error
wait:
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(e.stderr, "pail: shutting down")
			break wait
		case runErr = <-srv.Errors():
			fmt.Fprintln(e.stderr, "pail:", runErr)
			break wait
		case <-hup:
			newCfg, err := e.loadConfig()
			if err != nil {
				log.Error("reload: configuration not changed", "err", err)
				continue
			}
			level.UnmarshalText([]byte(newCfg.Log.Level))
			if err := srv.Reload(newCfg); err != nil {
				log.Error("reload", "err", err)
			}
		}
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "pail: shutdown:", err)
	}
	fmt.Fprintln(e.stderr, "pail: stopped")
	return runErr
}

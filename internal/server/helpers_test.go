package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pail/internal/config"
)

// loadConf writes conf as dir/pail.toml and loads it as `pail serve -c`
// would.
func loadConf(t *testing.T, dir, conf string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "pail.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newQuiet builds a Server from cfg with its logs discarded.
func newQuiet(t *testing.T, cfg *config.Config) *Server {
	t.Helper()
	srv, err := New(context.Background(), cfg, Options{Log: slog.New(slog.DiscardHandler), MailLog: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// startQuiet starts a quiet Server from cfg and shuts it down when the
// test ends.
func startQuiet(t *testing.T, cfg *config.Config) *Server {
	t.Helper()
	srv := newQuiet(t, cfg)
	srv.Start(io.Discard)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

package server

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"pail/internal/config"
)

// TestReloadReportsRestartOnlySettings: a SIGHUP with changed [sieve] or
// [spam] settings says they need a restart instead of silently keeping
// the old ones, and an unchanged configuration says nothing of the kind.
func TestReloadReportsRestartOnlySettings(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "mx.hill.test"
	cfg.Domains = []string{"hill.test"}
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0"}
	var log lockedBuffer
	srv, err := New(context.Background(), cfg, Options{Log: slog.New(slog.NewTextHandler(&log, nil)), MailLog: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(io.Discard)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	same := *cfg
	if err := srv.Reload(&same); err != nil {
		t.Fatal(err)
	}
	if out := log.String(); strings.Contains(out, "need a restart") {
		t.Errorf("unchanged reload warned:\n%s", out)
	}
	changed := *cfg
	changed.Sieve.MaxScripts++
	if err := srv.Reload(&changed); err != nil {
		t.Fatal(err)
	}
	if out := log.String(); !strings.Contains(out, "[sieve] changes need a restart") {
		t.Errorf("a [sieve] change was not reported:\n%s", out)
	}
}

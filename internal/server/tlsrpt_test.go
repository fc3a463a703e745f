package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"pail/internal/config"
	"pail/internal/tlsrpt"
)

// TestTLSReporterFlushedOnShutdown records through the Server's
// TLSReporter, as the SMTP client does, and finds the counts in the
// data directory's tlsrpt database after a graceful stop.
func TestTLSReporterFlushedOnShutdown(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Hostname = "mx.hill.test"
	cfg.Domains = []string{"hill.test"}
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0"}
	srv, err := New(ctx, cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MailLog: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(io.Discard)
	rec := srv.TLSReporter()
	rec.Record(ctx, tlsrpt.Outcome{PolicyDomain: "town.test", PolicyType: tlsrpt.PolicyNone, MXHost: "mx.town.test", Success: true})
	rec.Record(ctx, tlsrpt.Outcome{PolicyDomain: "town.test", PolicyType: tlsrpt.PolicyNone, MXHost: "mx.town.test",
		Failure: tlsrpt.ResultSTARTTLSNotSupported, ReceivingIP: "127.0.0.9"})
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	db, err := tlsrpt.Open(ctx, tlsrpt.DirIn(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Counts(ctx, tlsrpt.Day(time.Now()), "town.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Sessions+rows[1].Sessions != 2 {
		t.Errorf("counts after shutdown: %+v", rows)
	}
}

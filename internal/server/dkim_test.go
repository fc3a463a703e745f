package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/config"
)

// lockedBuffer is a log sink the server's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A selector named in [dkim.domains] that does not exist is an error at
// start, not a surprise at the first message.
func TestDKIMMissingSelectorLogged(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "mx.hill.test"
	cfg.Domains = []string{"hill.test"}
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0"}
	cfg.DKIM.Domains = map[string]config.DKIMDomain{"hill.test": {Selectors: []string{"gone2020"}}}
	var log lockedBuffer
	srv, err := New(context.Background(), cfg, Options{Log: slog.New(slog.NewTextHandler(&log, nil)), MailLog: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	if out := log.String(); !strings.Contains(out, "configured selector does not exist") || !strings.Contains(out, "selector=gone2020") {
		t.Errorf("log:\n%s", out)
	}
}

package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"pail/internal/config"
)

// SocketName is the unix socket in the data directory on which a running
// server answers /status and /metrics, for `pail status`. It also marks the
// data directory as taken: a second `pail serve` on it refuses to start.
const SocketName = "pail.sock"

// statusTimeout bounds each request to the status endpoints.
const statusTimeout = 10 * time.Second

// registerMetrics adds the gauges read at scrape time.
func (s *Server) registerMetrics() {
	m := s.metrics
	m.GaugeFunc("pail_start_time_seconds", "Start time of the server, Unix seconds.",
		func() float64 { return float64(s.started.Unix()) })
	for _, svc := range s.services {
		if svc.conns != nil {
			m.GaugeFunc("pail_connections", "Open connections per service.",
				func() float64 { return float64(svc.conns()) }, "service", svc.name)
		}
	}
	st := s.store
	m.CounterFunc("pail_store_commits_total", "Store transactions committed (one fsync each).",
		func() float64 { return float64(st.Stats().Commits) })
	m.CounterFunc("pail_store_writes_total", "Store writes, carried by the commits (group commit).",
		func() float64 { return float64(st.Stats().Writes) })
	m.CounterFunc("pail_store_commit_seconds_total", "Time spent syncing and committing store writes.",
		func() float64 { return st.Stats().CommitSeconds })
	if s.queue != nil {
		q := s.queue
		stat := func() (float64, float64, float64) {
			ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
			defer cancel()
			qs, err := q.Stats(ctx)
			if err != nil {
				return 0, 0, 0
			}
			age := 0.0
			if !qs.Oldest.IsZero() {
				age = time.Since(qs.Oldest).Seconds()
			}
			return float64(qs.Messages), float64(qs.Recipients), age
		}
		m.GaugeFunc("pail_queue_messages", "Messages in the outgoing queue.", func() float64 { n, _, _ := stat(); return n })
		m.GaugeFunc("pail_queue_recipients", "Recipients waiting in the outgoing queue.", func() float64 { _, n, _ := stat(); return n })
		m.GaugeFunc("pail_queue_oldest_age_seconds", "Age of the oldest message in the outgoing queue.", func() float64 { _, _, a := stat(); return a })
	}
}

// statusMux serves /metrics (Prometheus text format) and /status (text
// for people).
func (s *Server) statusMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.metrics.WriteTo(w)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		s.writeStatus(r.Context(), w)
	})
	return mux
}

func (s *Server) writeStatus(ctx context.Context, w http.ResponseWriter) {
	cfg := s.cfg
	fmt.Fprintf(w, "pail: up %s (since %s), pid %d\n", time.Since(s.started).Round(time.Second), s.started.UTC().Format(time.RFC3339), os.Getpid())
	fmt.Fprintf(w, "hostname %s, domains %s, data in %s\n", cfg.Hostname, strings.Join(cfg.Domains, " "), cfg.DataDir)
	fmt.Fprintln(w, "services:")
	for _, svc := range s.services {
		conns := ""
		if svc.conns != nil {
			conns = fmt.Sprintf("%d connections", svc.conns())
		}
		fmt.Fprintf(w, "  %-12s %-22s %s\n", svc.name, svc.ln.Addr(), conns)
	}
	if s.queue != nil {
		if qs, err := s.queue.Stats(ctx); err == nil {
			age := "-"
			if !qs.Oldest.IsZero() {
				age = time.Since(qs.Oldest).Round(time.Second).String()
			}
			fmt.Fprintf(w, "queue: %d messages, %d recipients waiting, oldest %s\n", qs.Messages, qs.Recipients, age)
		}
	}
	st := s.store.Stats()
	mean := 0.0
	if st.Commits > 0 {
		mean = st.CommitSeconds / float64(st.Commits) * 1000
	}
	fmt.Fprintf(w, "store: %d commits carrying %d writes, mean commit %.1f ms\n", st.Commits, st.Writes, mean)
	fmt.Fprintln(w, "metrics:")
	var b strings.Builder
	s.metrics.WriteTo(&b)
	for line := range strings.SplitSeq(b.String(), "\n") {
		if strings.HasPrefix(line, "pail_mail_events_total") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// newStatusServer returns an HTTP server for the status endpoints.
func (s *Server) newStatusServer() *http.Server {
	return &http.Server{
		Handler:           s.statusMux(),
		ReadHeaderTimeout: statusTimeout,
		ReadTimeout:       statusTimeout,
		WriteTimeout:      statusTimeout,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

// listenStatusSocket claims the data directory's socket. If a server
// answers on it, another `pail serve` uses this data directory.
func (s *Server) listenStatusSocket() (net.Listener, error) {
	path := filepath.Join(s.cfg.DataDir, SocketName)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another pail serve is running on data directory %s (%s answers)", s.cfg.DataDir, path)
	}
	os.Remove(path) // a stale socket of a server that died
	ln, err := net.Listen("unix", path)
	if err != nil {
		// Not fatal: a data directory path too long for a unix socket
		// (about 100 bytes) only costs `pail status`.
		s.log.Warn("no status socket; pail status will not work", "path", path, "err", err)
		return nil, nil
	}
	os.Chmod(path, 0o600)
	return ln, nil
}

// addMetrics adds the optional TCP listener for /metrics and /status.
func (s *Server) addMetrics(svc config.ListenEntry) error {
	srv := s.newStatusServer()
	run := func(ln net.Listener) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return s.listen(svc, run, srv.Shutdown)
}

// FetchStatus asks the server running on dataDir for path ("/status" or
// "/metrics") over its unix socket.
func FetchStatus(ctx context.Context, dataDir, path string) (string, error) {
	sock := filepath.Join(dataDir, SocketName)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}, Timeout: statusTimeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://pail"+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("no pail serve answers on %s: %w", sock, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return "", err
	}
	return b.String(), nil
}

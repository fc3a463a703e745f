package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	rpprof "runtime/pprof"
	"time"
)

// startProfiling honours the profiling variables of `pail serve` and
// `pail proxy`, for the benchmarks in bench/: PAIL_CPUPROFILE names a file
// for a CPU profile of the whole run, written when the returned stop is
// called; PAIL_PPROF names a loopback address for Go's profiling
// endpoints (/debug/pprof/), for measuring a running server (never set it
// to an address others can reach).
func startProfiling(log *slog.Logger) (stop func(), err error) {
	stop = func() {}
	if path := os.Getenv("PAIL_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("PAIL_CPUPROFILE: %w", err)
		}
		if err := rpprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("PAIL_CPUPROFILE: %w", err)
		}
		stop = func() {
			rpprof.StopCPUProfile()
			f.Close()
		}
	}
	if addr := os.Getenv("PAIL_PPROF"); addr != "" {
		if err := servePprof(addr, log); err != nil {
			stop()
			return nil, err
		}
	}
	return stop, nil
}

// servePprof serves Go's profiling endpoints on addr, which must be a
// loopback address: profiles show memory contents such as mail.
func servePprof(addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("PAIL_PPROF: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("PAIL_PPROF: %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("PAIL_PPROF: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("profiling endpoints", "addr", ln.Addr().String())
	go srv.Serve(ln)
	return nil
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"pail/internal/config"
	"pail/internal/dnsd"
	"pail/internal/tlsconf"
)

// zoneFlags collects repeated --zone flags.
type zoneFlags []string

func (z *zoneFlags) String() string     { return strings.Join(*z, ",") }
func (z *zoneFlags) Set(v string) error { *z = append(*z, v); return nil }

// cmdDNS runs only the name server: `pail dns --listen ADDR --zone FILE
// [--zone FILE ...]`, with the [dns] section of -c FILE (pools,
// locations, geoip_db, rate limit) when one is given. SIGHUP re-reads the
// config file, the zone files and the MaxMind-format database.
func cmdDNS(e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "ds":
			return cmdDNSDS(e, args[1:])
		case "rollover":
			return cmdDNSRollover(e, args[1:])
		}
	}
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	listen := fs.String("listen", "", "`host:port` to serve over UDP and TCP (default: dns.listen)")
	tlsListen := fs.String("tls-listen", "", "`host:port` to serve DNS over TLS, RFC 7858 (default: dns.tls_listen)")
	var zones zoneFlags
	fs.Var(&zones, "zone", "RFC 1035 master `file` to serve (repeatable)")
	rate := fs.Int("rate-limit", -1, "responses per second per client prefix; 0 turns rate limiting off (default: dns.rate_limit)")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "dns --listen ADDR --zone FILE [--zone FILE ...]"); err != nil {
		return err
	}
	var full *config.Config
	load := func() (config.DNS, error) {
		cfg, err := e.loadConfig()
		if err != nil {
			return config.DNS{}, err
		}
		full = cfg
		d := cfg.DNS
		if *listen != "" {
			d.Listen = *listen
		}
		if *tlsListen != "" {
			d.TLSListen = *tlsListen
		}
		d.ZoneFiles = append(d.ZoneFiles, zones...)
		if *rate >= 0 {
			d.RateLimit.ResponsesPerSecond = *rate
		}
		if err := d.Validate(); err != nil {
			return config.DNS{}, err
		}
		return d, nil
	}
	d, err := load()
	if err != nil {
		return err
	}
	if d.Listen == "" {
		return errors.New("dns: no address: give --listen ADDR or set dns.listen")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	srv, err := dnsd.New(d, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	pc, ln, err := dnsd.Listen(d.Listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "pail: dns listening on %s (udp, tcp), zones %v\n", pc.LocalAddr(), srv.Zones())
	errc := make(chan error, 3)
	if d.TLSListen != "" {
		// The certificate of [tls], or the self-signed one in data_dir.
		tc, err := tlsconf.Load(full.TLS.Cert, full.TLS.Key, full.DataDir, []string{full.Hostname})
		if err != nil {
			return err
		}
		tc.NextProtos = []string{"dot"} // RFC 7858's ALPN name
		tln, err := net.Listen("tcp", d.TLSListen)
		if err != nil {
			return fmt.Errorf("dns.tls_listen: %w", err)
		}
		fmt.Fprintf(e.stderr, "pail: dns over tls listening on %s\n", tln.Addr())
		go func() { errc <- srv.ServeTLS(tls.NewListener(tln, tc)) }()
	}

	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	go func() { errc <- srv.ServeUDP(pc) }()
	go func() { errc <- srv.ServeTCP(ln) }()
	for {
		select {
		case <-hup:
			nd, err := load()
			if err == nil {
				err = srv.Reload(nd)
			}
			if err != nil {
				fmt.Fprintln(e.stderr, "pail: dns: reload failed, old zones kept:", err)
			} else {
				fmt.Fprintf(e.stderr, "pail: dns: reloaded, zones %v\n", srv.Zones())
			}
		case err := <-errc:
			srv.Close()
			return err
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			return srv.Shutdown(sctx)
		}
	}
}

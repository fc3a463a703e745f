package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"pail/internal/config"
	"pail/internal/proxy"
)

// proxyShutdownTimeout bounds the graceful stop of `pail proxy`.
const proxyShutdownTimeout = 10 * time.Second

// cmdProxy runs only the web cache: `pail proxy --listen ADDR --origin URL`
// is a reverse proxy to URL for any Host (a contract with outside
// scripts; DESIGN.md); with --forward it is also a forward proxy for
// absolute-form requests and CONNECT, to the destinations the rules
// allow (package proxy) and those --forward-allow lists.
func cmdProxy(e *env, args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:3128", "`host:port` to listen on")
	origin := fs.String("origin", "", "origin `URL` for every Host not named by --site")
	var sites siteFlags
	fs.Var(&sites, "site", "`HOST=URL`: reverse proxy HOST to URL (repeatable)")
	cacheBytes := fs.Int64("cache-bytes", config.DefaultProxyCacheBytes, "memory cache budget in `bytes`")
	maxObject := fs.Int64("max-object-bytes", config.DefaultProxyMaxObjectBytes, "largest cached response in `bytes`")
	disk := fs.String("disk", "", "keep the cache in `DIR` (survives restart) instead of memory")
	diskBytes := fs.Int64("disk-bytes", config.DefaultProxyDiskBytes, "disk cache budget in `bytes`")
	forward := fs.Bool("forward", false, "forward-proxy absolute-form requests and CONNECT (loopback, private and other non-global destinations refused unless --forward-allow)")
	var allow, trusted listFlag
	fs.Var(&allow, "forward-allow", "`CIDR|IP|IP:PORT|HOST:PORT` the forward proxy may reach although refused by default (repeatable)")
	fs.Var(&trusted, "trusted-proxy", "`CIDR|IP` of a proxy in front whose Forwarded/X-Forwarded-* fields are passed on (repeatable)")
	token := fs.String("admin-token", os.Getenv("PAIL_PROXY_TOKEN"), "bearer `token` for /_pail/purge (default $PAIL_PROXY_TOKEN)")
	name := fs.String("name", "pail", "pseudonym in Via and Cache-Status")
	debug := fs.Bool("debug", false, "log each origin failure")
	noFast := fs.Bool("no-fast-path", false, "answer every request through net/http, as before the hit fast path (for comparisons)")
	if _, err := e.parseFlags(fs, args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	stopProfile, err := startProfiling(log)
	if err != nil {
		return err
	}
	defer stopProfile()
	st, err := proxy.OpenStore(*cacheBytes, *maxObject, *disk, *diskBytes)
	if err != nil {
		return err
	}
	defer st.Close()
	siteMap, err := proxy.ParseSites(sites)
	if err != nil {
		return err
	}
	cfg := proxy.Config{
		Name: *name, Sites: siteMap, Forward: *forward, ForwardAllow: allow, TrustedProxies: trusted, Store: st, AdminToken: *token, DisableFastPath: *noFast,
		Log: log,
	}
	if *origin != "" {
		if cfg.Origin, err = proxy.ParseOrigin(*origin); err != nil {
			return err
		}
	}
	if cfg.Origin == nil && len(siteMap) == 0 && !*forward {
		return errors.New("proxy: nothing to serve: give --origin, --site or --forward")
	}
	srv, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	fmt.Fprintf(e.stdout, "pail: proxy listening on %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), proxyShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// listFlag collects a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// siteFlags collects repeated --site HOST=URL flags.
type siteFlags map[string]string

func (s *siteFlags) String() string { return fmt.Sprint(map[string]string(*s)) }

func (s *siteFlags) Set(v string) error {
	host, u, ok := strings.Cut(v, "=")
	if !ok || host == "" || u == "" {
		return fmt.Errorf("--site wants HOST=URL, not %q", v)
	}
	if *s == nil {
		*s = siteFlags{}
	}
	(*s)[strings.ToLower(host)] = u
	return nil
}

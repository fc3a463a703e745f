package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"pail/internal/delivery"
	"pail/internal/dkim"
	"pail/internal/queue"
	"pail/internal/remote"
)

// openQueue opens the outgoing queue in the data directory (or in the
// store's PostgreSQL database, shared by the nodes); it is closed with the
// server.
func (s *Server) openQueue(ctx context.Context) (*queue.Queue, error) {
	signer, err := s.openDKIM()
	if err != nil {
		return nil, err
	}
	q, err := queue.Open(ctx, queue.Config{
		Dir:      queue.DirIn(s.cfg.DataDir),
		Database: s.cfg.Store,
		Hostname: s.cfg.Hostname,
		Signer:   signer,
		Lifetime: s.cfg.Outbound.QueueLifetime.Duration,
		MailLog:  s.mailLog,
		Log:      s.log.With("proto", "queue"),
	})
	if err != nil {
		return nil, err
	}
	s.queue = q
	s.closers = append(s.closers, q)
	return q, nil
}

// openDKIM opens the DKIM keys (in the data directory, or in the
// cluster's database when the store is on PostgreSQL), makes the keys of
// every local domain that has none, and returns the signer the queue
// signs with (RFC 6376): mail whose From is a local domain with signing
// on. A domain whose keys cannot be made is logged; its mail goes out
// unsigned.
func (s *Server) openDKIM() (*dkim.Signer, error) {
	var keys *dkim.Store
	if s.blobs != nil {
		keys = dkim.OpenDB(s.blobs, nil)
	} else {
		var err error
		if keys, err = dkim.Open(dkim.DirIn(s.cfg.DataDir), nil); err != nil {
			return nil, err
		}
	}
	s.dkimKeys = keys
	dk := s.cfg.DKIM
	s.dkim.Store(&dk)
	s.ensureDKIM(s.cfg.Domains)
	return dkim.NewSigner(keys, dkim.Policy{
		Local:     s.isLocalDomain,
		Disabled:  func(d string) bool { return !s.dkim.Load().SignsFor(d) },
		Selectors: func(d string) []string { return s.dkim.Load().SelectorsFor(d) },
		Host:      s.cfg.Hostname,
	}), nil
}

// ensureDKIM makes the DKIM keys of the domains that sign and have none.
func (s *Server) ensureDKIM(domains []string) {
	for _, d := range domains {
		if !s.dkim.Load().SignsFor(d) {
			continue
		}
		keys, err := s.dkimKeys.Ensure(d)
		if err != nil {
			s.log.Warn("dkim: no keys; the domain's mail goes out unsigned", "domain", d, "err", err)
			continue
		}
		// Selectors named in [dkim.domains] must exist, or every message
		// of the domain would go out unsigned: say so at start, not only
		// at the first message.
		for _, sel := range s.dkim.Load().SelectorsFor(d) {
			if !slices.ContainsFunc(keys, func(k dkim.Key) bool { return k.Selector == sel }) {
				s.log.Error("dkim: a configured selector does not exist (pail dkim list); the domain's mail goes out unsigned",
					"domain", d, "selector", sel)
			}
		}
	}
}

// ehloLookupTime bounds the lookups that find the EHLO name of
// outbound.source at start, so a dead resolver delays start by no more.
const ehloLookupTime = 5 * time.Second

// newTransport builds what the queue delivers through: local delivery for
// our own domains (DSNs to local senders), the SMTP client for the rest.
func (s *Server) newTransport(router *delivery.Router, local *delivery.Deliverer) *transport {
	ob := s.cfg.Outbound
	routes := make(map[string]string, len(ob.Routes))
	for dom, hop := range ob.Routes {
		routes[strings.ToLower(strings.TrimSuffix(dom, "."))] = hop
	}
	var source netip.Addr
	ehlo := s.cfg.Hostname
	if ob.Source != "" {
		source = netip.MustParseAddr(ob.Source) // Validate checked it
		ctx, cancel := context.WithTimeout(context.Background(), ehloLookupTime)
		var err error
		ehlo, err = remote.EHLOName(ctx, s.resolver, s.cfg.Hostname, source)
		cancel()
		if err != nil {
			s.log.Warn("outbound.source: EHLO names the host name, which receivers will not confirm", "err", err)
		} else {
			s.log.Info("outbound.source", "addr", source, "ehlo", ehlo)
		}
	}
	rc := remote.Config{
		Hostname:          s.cfg.Hostname,
		EHLOName:          ehlo,
		Source:            source,
		Port:              ob.Port,
		Smarthost:         ob.Smarthost,
		SmarthostUsername: ob.SmarthostUsername,
		SmarthostPassword: ob.SmarthostPassword,
		Routes:            routes,
		DNS:               s.resolver,
		NoDANE:            !ob.DANE,
		Log:               s.log.With("proto", "remote"),
	}
	rc.STS = s.newSTSFetcher()
	if s.tlsRecorder != nil {
		rc.Reports = s.tlsRecorder
	}
	client := remote.New(rc)
	return &transport{isLocal: s.isLocalDomain, router: router, local: local, remote: client, hostname: s.cfg.Hostname}
}

// transport implements queue.Deliverer.
type transport struct {
	isLocal  func(string) bool
	router   *delivery.Router
	local    *delivery.Deliverer
	remote   *remote.Client
	hostname string
}

var _ queue.Deliverer = (*transport)(nil)

// Deliver sends m to its recipients at domain.
func (t *transport) Deliver(ctx context.Context, domain string, m remote.Message) []remote.Result {
	if t.isLocal(domain) {
		return t.deliverLocal(ctx, m)
	}
	return t.remote.Deliver(ctx, domain, m)
}

// deliverLocal puts a queued message into local mailboxes, answering per
// recipient as a remote server would.
func (t *transport) deliverLocal(ctx context.Context, m remote.Message) []remote.Result {
	results := make([]remote.Result, len(m.Rcpts))
	set := func(i int, st remote.Status, code int, enh, text string) {
		results[i] = remote.Result{Rcpt: m.Rcpts[i], Status: st, Reply: remote.Reply{Code: code, Enhanced: enh, Text: text}, RemoteMTA: t.hostname}
	}
	var rcpts []delivery.Recipient
	var idx []int
	for i, r := range m.Rcpts {
		route, err := t.router.Resolve(ctx, r)
		switch {
		case err == nil:
			rcpts = append(rcpts, delivery.Recipient{Address: r, Route: route})
			idx = append(idx, i)
		case errors.Is(err, delivery.ErrUnknownUser), errors.Is(err, delivery.ErrNotLocal):
			set(i, remote.Failed, 550, "5.1.1", "No such user here")
		default:
			set(i, remote.Deferred, 451, "4.3.0", "Local delivery failed: "+err.Error())
		}
	}
	if len(rcpts) == 0 {
		return results
	}
	err := t.store(ctx, m, rcpts)
	for _, i := range idx {
		if err != nil {
			set(i, remote.Deferred, 451, "4.3.0", "Local delivery failed: "+err.Error())
		} else {
			set(i, remote.Delivered, 250, "2.0.0", "Delivered locally")
		}
	}
	return results
}

// store writes m for rcpts through the local deliverer.
func (t *transport) store(ctx context.Context, m remote.Message, rcpts []delivery.Recipient) error {
	msg, err := t.local.NewMessage(m.From, rcpts, delivery.Trace{Helo: t.hostname, Proto: "LOCAL"})
	if err != nil {
		return err
	}
	if _, err := io.Copy(msg, io.NewSectionReader(m.Body, 0, m.Size)); err != nil {
		msg.Abort()
		return fmt.Errorf("copy queued message: %w", err)
	}
	return msg.Commit(ctx)
}

// startQueue starts delivering the queue.
func (s *Server) startQueue() {
	if s.queue != nil {
		s.queue.Start(s.transport)
	}
}

// stopQueue lets deliveries in progress finish until ctx ends.
func (s *Server) stopQueue(ctx context.Context) error {
	if s.queue == nil {
		return nil
	}
	return s.queue.Shutdown(ctx)
}

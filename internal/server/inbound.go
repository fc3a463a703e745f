package server

import (
	"context"
	"net/netip"
	"reflect"

	"pail/internal/config"
	"pail/internal/dnsbl"
	"pail/internal/greylist"
	"pail/internal/smtpd"
	"pail/internal/verify"
)

// inboundChecks returns the MX role's dependencies: deps with the DNS
// blocklists and greylisting of [inbound] added, each when configured,
// and their counters registered.
func (s *Server) inboundChecks(deps smtpd.Deps) smtpd.Deps {
	in := s.cfg.Inbound
	if len(in.DNSBL) > 0 {
		bl := dnsbl.New(dnsbl.Config{Lists: in.DNSBL, Log: s.log.With("proto", "smtp")}, s.resolver)
		deps.Blocklist = bl
		for i, l := range in.DNSBL {
			stat := func() dnsbl.ListStats { return bl.Stats()[i] }
			s.metrics.CounterFunc("pail_dnsbl_listed_total", "Client addresses found listed, per DNS blocklist (one lookup per address and cache period).",
				func() float64 { return float64(stat().Listed) }, "list", l)
			s.metrics.CounterFunc("pail_dnsbl_failed_total", "Lookups a DNS blocklist gave no usable answer to (timeout, SERVFAIL, error code); the address counted as not listed.",
				func() float64 { return float64(stat().Failed) }, "list", l)
		}
	}
	if in.Greylist {
		gl := greylist.New(greylist.Config{Delay: in.GreylistDelay.Duration, Expire: in.GreylistExpire.Duration}, s.store)
		deps.Greylist = gl
		s.metrics.CounterFunc("pail_greylist_deferred_total", "Recipients deferred by greylisting (451 4.7.1).",
			func() float64 { return float64(gl.Stats().Deferred) })
		s.metrics.CounterFunc("pail_greylist_passed_total", "Greylisting triples that passed: a retry after the delay.",
			func() float64 { return float64(gl.Stats().Passed) })
	}
	return deps
}

// warnInboundReload reports changes to the blocklist and greylisting keys
// of [inbound], which the MX service takes only when it starts.
func (s *Server) warnInboundReload(cfg *config.Config) {
	old, cur := s.cfg.Inbound, cfg.Inbound
	if !reflect.DeepEqual(
		[]any{old.DNSBL, old.DNSBLAction, old.Greylist, old.GreylistDelay, old.GreylistExpire, old.CheckLoopback},
		[]any{cur.DNSBL, cur.DNSBLAction, cur.Greylist, cur.GreylistDelay, cur.GreylistExpire, cur.CheckLoopback}) {
		s.log.Warn("reload: inbound dnsbl and greylist changes need a restart; they are not applied")
	}
}

// inboundJudge is the smtpd Judge of every SMTP service: the pipeline
// of the [inbound] settings in force, swapped on reload.
type inboundJudge struct{ s *Server }

// Start begins the envelope checks of the pipeline in force.
func (j inboundJudge) Start(ctx context.Context, ip netip.Addr, helo, mailFrom string) *verify.Early {
	return j.s.inbound.Load().Start(ctx, ip, helo, mailFrom)
}

// Decide judges m with the pipeline in force; with inbound.checks off
// and no rspamd every message is delivered as it came.
func (j inboundJudge) Decide(ctx context.Context, m *verify.Message) verify.Decision {
	p := j.s.inbound.Load()
	if p == nil {
		return verify.Decision{}
	}
	d := p.Decide(ctx, m)
	j.s.recordDMARC(ctx, m, d)
	return d
}

// newPipeline builds the end-of-DATA judgement of [inbound]: the checks
// through the one resolver, then the judges in order: the DMARC policy,
// then rspamd when [spam] rspamd is set (spamJudge), else the built-in
// score. With inbound.checks off, rspamd still judges, alone.
func (s *Server) newPipeline(cfg *config.Config) *verify.Pipeline {
	in := cfg.Inbound
	if !in.Checks {
		return s.spamOnlyPipeline()
	}
	policy := &verify.PolicyJudge{OnReject: verify.Reject, OnQuarantine: verify.Junk, IsLocal: s.isLocalDomain, AcceptFrom: in.AcceptFrom}
	if in.DMARCReject == "junk" {
		policy.OnReject = verify.Junk
	}
	if in.DMARCQuarantine == "inbox" {
		policy.OnQuarantine = verify.Deliver
	}
	return &verify.Pipeline{
		Checker:   &verify.Checker{Hostname: cfg.Hostname, Resolver: s.resolver},
		Judges:    []verify.Judge{policy, s.spamJudge(&verify.ScoreJudge{AcceptFrom: in.AcceptFrom})},
		JunkScore: in.JunkScore,
	}
}

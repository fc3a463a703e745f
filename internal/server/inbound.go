package server

import (
	"context"

	"pail/internal/config"
	"pail/internal/verify"
)

// inboundJudge is the smtpd Judge of every SMTP service: the pipeline
// of the [inbound] settings in force, swapped on reload.
type inboundJudge struct{ s *Server }

// Decide judges m with the pipeline in force; with inbound.checks off
// every message is delivered as it came.
func (j inboundJudge) Decide(ctx context.Context, m *verify.Message) verify.Decision {
	p := j.s.inbound.Load()
	if p == nil {
		return verify.Decision{}
	}
	return p.Decide(ctx, m)
}

// newPipeline builds the end-of-DATA judgement of [inbound]: the checks
// through the one resolver, then the judges in order. Judges that come
// later (DNSBL scores, rspamd) are appended to Judges here.
func (s *Server) newPipeline(cfg *config.Config) *verify.Pipeline {
	in := cfg.Inbound
	if !in.Checks {
		return nil
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
		Judges:    []verify.Judge{policy, &verify.ScoreJudge{AcceptFrom: in.AcceptFrom}},
		JunkScore: in.JunkScore,
	}
}

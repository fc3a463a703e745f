// Package dmarcrpt is pail's DMARC aggregate reporting (RFC 7489 §7.2):
// it counts, per UTC day and policy domain, the messages whose From
// domain the inbound checks evaluated (Recorder), sends each day's
// aggregate report, gzipped XML of RFC 7489 Appendix C, to the mailto:
// rua that the domain's DMARC record names (Sender, run once a day by
// Scheduler, off unless [dmarc] reports is set), and parses and stores
// the reports that other receivers send to pail's own domains
// (Receiver). Failure reports (§7.3) are neither sent nor parsed.
//
// Counts, sent reports and received reports live in their own SQLite
// database, data_dir/dmarc/dmarc.db; the Recorder aggregates in memory
// and writes every few seconds (reporting.Tally), so that a message pays
// for a map update, not for a commit.
package dmarcrpt

import (
	"context"
	"strings"

	"pail/internal/verify"
)

// Dispositions (RFC 7489 Appendix C, DispositionType): what the receiver
// did with a message.
const (
	DispositionNone       = "none"
	DispositionQuarantine = "quarantine"
	DispositionReject     = "reject"
)

// Policy override reasons (Appendix C, PolicyOverrideType).
const (
	// ReasonSampledOut: pct left the message out of the policy (§6.6.4).
	ReasonSampledOut = "sampled_out"
	// ReasonLocalPolicy: pail's own settings did otherwise than the
	// domain's policy asks ([inbound] dmarc_reject, accept_from, the
	// local-domain rule, the spam score).
	ReasonLocalPolicy = "local_policy"
)

// Outcome is the DMARC evaluation of one message and what became of it.
type Outcome struct {
	// Policy is the record that applied.
	Policy PolicyPublished
	// SourceIP is the SMTP client's address.
	SourceIP string
	// HeaderFrom is the From domain; EnvelopeFrom the MAIL FROM domain
	// ("" for the null sender).
	HeaderFrom, EnvelopeFrom string
	// Disposition is what pail did: DispositionNone (delivered, to the
	// INBOX), DispositionQuarantine (filed in Junk) or DispositionReject.
	Disposition string
	// DKIMAligned and SPFAligned: an aligned identifier passed.
	DKIMAligned, SPFAligned bool
	// Reasons are the policy override reasons, when Disposition is not
	// what the policy asks.
	Reasons []string
	// DKIM are the DKIM results, one per signature; SPF the SPF result.
	DKIM []DKIMAuthResult
	SPF  SPFAuthResult
}

// Recording is what the inbound path needs of a Recorder: one call per
// message judged. It must be cheap and never block on storage.
type Recording interface {
	Record(ctx context.Context, o Outcome)
}

var _ Recording = (*Recorder)(nil)

// OutcomeOf makes the Outcome of a message judged at the end of DATA on
// the MX port; ok is false when there is nothing to report: mail from an
// authenticated submission session, a message whose From domain has no
// DMARC record (or none that could be had), and a message refused for now
// (it comes again and is counted then).
func OutcomeOf(m *verify.Message, d verify.Decision) (o Outcome, ok bool) {
	r := d.Results
	if m.User != "" || r == nil || r.User != "" || r.DMARC.Published == nil || d.Action == verify.TempFail {
		return Outcome{}, false
	}
	dm := r.DMARC
	pub := dm.Published
	o = Outcome{
		Policy:      PolicyPublished{Domain: pub.Domain, ADKIM: pub.ADKIM, ASPF: pub.ASPF, P: pub.P, SP: pub.SP, Pct: pub.Pct, FO: pub.FO},
		HeaderFrom:  dm.Domain,
		DKIMAligned: dm.DKIMAligned, SPFAligned: dm.SPFAligned,
		Disposition: DispositionNone,
		SPF:         SPFAuthResult{Domain: r.SPF.Domain, Scope: "mfrom", Result: r.SPF.Value},
	}
	if m.ClientIP.IsValid() {
		o.SourceIP = m.ClientIP.Unmap().String()
	}
	if at := strings.LastIndexByte(m.MailFrom, '@'); at >= 0 {
		o.EnvelopeFrom = strings.ToLower(m.MailFrom[at+1:])
	}
	if r.SPF.MailFrom == "" {
		o.SPF.Scope = "helo"
	}
	switch d.Action {
	case verify.Junk:
		o.Disposition = DispositionQuarantine
	case verify.Reject:
		o.Disposition = DispositionReject
	}
	for _, k := range r.DKIM {
		if k.Domain != "" {
			o.DKIM = append(o.DKIM, DKIMAuthResult{Domain: k.Domain, Selector: k.Selector, Result: k.Value})
		}
	}
	// What the policy asks (§6.6.4 after sampling; nothing for a pass).
	asked := DispositionNone
	if dm.Value == "fail" && (dm.Policy == DispositionQuarantine || dm.Policy == DispositionReject) {
		asked = dm.Policy
	}
	if dm.SampledOut {
		o.Reasons = append(o.Reasons, ReasonSampledOut)
	}
	if o.Disposition != asked {
		o.Reasons = append(o.Reasons, ReasonLocalPolicy)
	}
	return o, true
}

package verify

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Action is what a judge wants done with a message, in increasing order
// of severity: the Pipeline takes the most severe.
type Action int

// Actions.
const (
	// Deliver files the message in the recipients' INBOX.
	Deliver Action = iota
	// Junk files it in their Junk folder (RFC 6154 \Junk).
	Junk
	// TempFail refuses it for now (451 4.7.1): greylisting, a filter's
	// soft reject.
	TempFail
	// Reject refuses it (550 5.7.1 unless the verdict names a reply).
	Reject
)

func (a Action) String() string {
	switch a {
	case Deliver:
		return "deliver"
	case Junk:
		return "junk"
	case TempFail:
		return "tempfail"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Verdict is one judge's opinion of a message.
type Verdict struct {
	// Judge names the judge, for the mail log.
	Judge string
	// Score is added to the message's spam score; the Pipeline files a
	// message whose total reaches JunkScore in Junk.
	Score float64
	// Action is what the judge wants done regardless of the score.
	Action Action
	// Code and Enhanced are the SMTP reply of a TempFail or Reject
	// ("550", "5.7.1"); zero means 451 4.7.1 or 550 5.7.1.
	Code     int
	Enhanced string
	// Reason is the reply text and the mail log's reason.
	Reason string
	// Header holds fields the judge adds to the stored message
	// ("X-Spam-Status: ...\r\n"), each ending in CRLF.
	Header string
	// Remove are fields of the content to leave out of the stored copy
	// (a filter's own fields that the sender forged), as spans of
	// m.Header; in any order, and they may overlap other judges'.
	Remove []Span
}

// Judge looks at a message at the end of DATA, after the authentication
// checks (m.Results is set), and says what it thinks. It must return
// within ctx's deadline and must not fail the message for its own
// trouble (a filter that cannot be reached says Deliver with no score).
type Judge interface {
	Judge(ctx context.Context, m *Message) Verdict
}

// JudgeFunc is a function that is a Judge.
type JudgeFunc func(ctx context.Context, m *Message) Verdict

// Judge calls f.
func (f JudgeFunc) Judge(ctx context.Context, m *Message) Verdict { return f(ctx, m) }

// Decision is what becomes of a message.
type Decision struct {
	Action   Action
	Code     int    // the reply for TempFail and Reject
	Enhanced string // its enhanced status code
	Reason   string
	Score    float64
	// JunkScore is the threshold Score was judged against (the
	// Pipeline's, or DefaultJunkScore), so that Sieve's spamtest scales
	// the score by the threshold the operator set.
	JunkScore float64
	// Header is the fields to prepend to the stored message: the
	// Authentication-Results field first, then the judges'.
	Header string
	// Remove are the content's fields to leave out of the stored copy,
	// in order and not overlapping: Authentication-Results fields that
	// claim pail's authserv-id, and those the judges named.
	Remove []Span
	// Results are the authentication results.
	Results *Results
	// Verdicts are every judge's, in order, for the mail log.
	Verdicts []Verdict
}

// DefaultJunkScore is the spam score from which a message is filed in
// Junk; see ScoreJudge for what adds to it.
const DefaultJunkScore = 4.0

// Pipeline is the end-of-DATA judgement of a message: the authentication
// checks, then every judge in turn. It is safe for concurrent use once
// set up.
type Pipeline struct {
	// Checker runs the authentication checks; nil runs none (no
	// Authentication-Results field, m.Results stays nil) and only the
	// judges judge.
	Checker *Checker
	// Judges are asked in order after the checks: the DMARC policy, then
	// the built-in score or a filter (rspamd) in its place.
	Judges []Judge
	// JunkScore is the total score that files a message in Junk; zero
	// means DefaultJunkScore.
	JunkScore float64
}

// Start begins the envelope checks of a transaction (Checker.Start); nil
// when the Pipeline runs no checks.
func (p *Pipeline) Start(ctx context.Context, ip netip.Addr, helo, mailFrom string) *Early {
	if p == nil || p.Checker == nil {
		return nil
	}
	return p.Checker.Start(ctx, ip, helo, mailFrom)
}

// Decide runs the checks and the judges on m and combines their verdicts:
// the most severe action wins, and a score total of JunkScore or more is
// at least Junk.
func (p *Pipeline) Decide(ctx context.Context, m *Message) Decision {
	var d Decision
	if p.Checker != nil {
		m.Results = p.Checker.Check(ctx, m)
		d.Results, d.Header = m.Results, m.Results.Field()
		d.Remove = OwnResults(m.Header, p.Checker.Hostname)
	}
	d.Verdicts = append(d.Verdicts, m.Earlier...)
	if m.User == "" {
		for _, j := range p.Judges {
			d.Verdicts = append(d.Verdicts, j.Judge(ctx, m))
		}
	}
	var reasons []string
	for _, v := range d.Verdicts {
		d.Score += v.Score
		d.Header += v.Header
		d.Remove = append(d.Remove, v.Remove...)
		if v.Action > d.Action {
			d.Action, d.Code, d.Enhanced, d.Reason = v.Action, v.Code, v.Enhanced, v.Reason
		}
		if v.Reason != "" && (v.Action != Deliver || v.Score != 0) {
			reasons = append(reasons, v.Judge+": "+v.Reason)
		}
	}
	d.Remove = mergeSpans(d.Remove)
	d.JunkScore = p.JunkScore
	if d.JunkScore == 0 {
		d.JunkScore = DefaultJunkScore
	}
	if d.Action < Junk && d.Score >= d.JunkScore {
		d.Action = Junk
		d.Reason = fmt.Sprintf("spam score %.1f (%s)", d.Score, strings.Join(reasons, "; "))
	}
	switch d.Action {
	case TempFail:
		d.Code, d.Enhanced = cmp(d.Code, 451), cmpStr(d.Enhanced, "4.7.1")
	case Reject:
		d.Code, d.Enhanced = cmp(d.Code, 550), cmpStr(d.Enhanced, "5.7.1")
	}
	return d
}

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func cmpStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// PolicyJudge applies the From domain's DMARC policy (RFC 7489 §6.6.4,
// §6.7) as the operator softened it, and keeps mail that claims a local
// domain in From and fails DMARC out of the INBOX whatever the domain's
// record says: pail signs its own domains' mail, so such mail is forged.
type PolicyJudge struct {
	// OnReject is the action for a failing message under p=reject:
	// Reject (the default) or Junk.
	OnReject Action
	// OnQuarantine is the action under p=quarantine: Junk (the
	// default) or Deliver.
	OnQuarantine Action
	// IsLocal reports whether a domain is one of pail's.
	IsLocal func(domain string) bool
	// AcceptFrom are domains and addresses whose mail the DMARC policy
	// and the score never refuse nor file in Junk (matched against the
	// envelope sender and the From address); the local-domain rule
	// still holds for them.
	AcceptFrom []string
}

// Judge implements Judge.
func (p *PolicyJudge) Judge(_ context.Context, m *Message) Verdict {
	v := Verdict{Judge: "dmarc"}
	r := m.Results
	if r == nil {
		return v
	}
	dm := r.DMARC
	if dm.Domain != "" && p.IsLocal != nil && p.IsLocal(dm.Domain) && dm.Value != "pass" {
		v.Action, v.Reason = Junk, fmt.Sprintf("From claims local domain %s, DMARC %s", dm.Domain, dm.Value)
		return v
	}
	if dm.Value != "fail" || Accepted(p.AcceptFrom, m) {
		return v
	}
	switch dm.Policy {
	case "reject":
		v.Action = p.OnReject
		if v.Action == Deliver {
			v.Action = Reject
		}
	case "quarantine":
		v.Action = p.OnQuarantine
	default:
		return v
	}
	v.Reason = fmt.Sprintf("DMARC policy of %s (p=%s) failed", dm.Domain, dm.Policy)
	return v
}

// Accepted reports whether the envelope sender or the From address of m,
// or their domains, is in list (case-insensitive).
func Accepted(list []string, m *Message) bool {
	if len(list) == 0 {
		return false
	}
	var names []string
	for _, a := range []string{m.MailFrom, fromAddress(m)} {
		if a == "" {
			continue
		}
		names = append(names, strings.ToLower(a))
		if at := strings.LastIndexByte(a, '@'); at >= 0 {
			names = append(names, strings.ToLower(a[at+1:]))
		}
	}
	return slices.ContainsFunc(list, func(x string) bool { return slices.Contains(names, strings.ToLower(x)) })
}

func fromAddress(m *Message) string {
	if m.Results != nil {
		return m.Results.From.Address
	}
	return ""
}

// Scores of the built-in judge. A DMARC failure with a failed SPF or
// without iprev reaches DefaultJunkScore; no one of them does alone, nor
// a DMARC failure with a softfail (a forwarder's usual mark). A client on
// a blocklist is nearly there: with no iprev, a failed SPF or DMARC, or a
// second list, it is Junk.
const (
	scoreDNSBL       = 3.0
	scoreDMARCFail   = 3.0
	scoreSPFFail     = 2.0
	scoreSPFSoftFail = 0.5
	scoreNoIPRev     = 1.0
)

// ScoreJudge is the built-in spam score, for sites without a filter: what
// the checks found that spam shows most (a failed DMARC, a failed SPF, a
// client without forward-confirmed reverse DNS, a client on a DNS
// blocklist scored rather than refused) adds to the score. Mail from
// AcceptFrom scores nothing.
type ScoreJudge struct {
	AcceptFrom []string
}

// Judge implements Judge.
func (s *ScoreJudge) Judge(_ context.Context, m *Message) Verdict {
	v := Verdict{Judge: "score"}
	r := m.Results
	if r == nil || Accepted(s.AcceptFrom, m) {
		return v
	}
	var why []string
	if r.DMARC.Value == "fail" {
		v.Score += scoreDMARCFail
		why = append(why, "dmarc=fail")
	}
	switch r.SPF.Value {
	case "fail":
		v.Score += scoreSPFFail
		why = append(why, "spf=fail")
	case "softfail":
		v.Score += scoreSPFSoftFail
		why = append(why, "spf=softfail")
	}
	if r.IPRev.Value == "fail" {
		v.Score += scoreNoIPRev
		why = append(why, "iprev=fail")
	}
	for _, l := range m.Listed {
		v.Score += scoreDNSBL
		why = append(why, "dnsbl="+l)
	}
	v.Reason = strings.Join(why, " ")
	return v
}

package verify

import (
	"context"
	"strings"
	"testing"
)

func TestPipeline(t *testing.T) {
	key, pub := newKey(t)
	c := newChecker(t, append(zone(pub), `hill.test. TXT "v=spf1 -all"`))
	isLocal := func(d string) bool { return d == "hill.test" }
	pipeline := func(p *PolicyJudge) *Pipeline {
		p.IsLocal = isLocal
		return &Pipeline{Checker: c, Judges: []Judge{p, &ScoreJudge{AcceptFrom: p.AcceptFrom}}}
	}
	def := pipeline(&PolicyJudge{OnReject: Reject, OnQuarantine: Junk})
	for _, tc := range []struct {
		name     string
		p        *Pipeline
		mailFrom string
		content  []byte
		want     Action
	}{
		{"dmarc pass", def, "jack@town.test", sign(t, key, "town.test", plain("jack@town.test")), Deliver},
		{"p=reject", def, "jack@fail.test", plain("jack@town.test"), Reject},
		{"p=quarantine", def, "jack@fail.test", plain("jack@quar.test"), Junk},
		{"p=reject softened to junk", pipeline(&PolicyJudge{OnReject: Junk, OnQuarantine: Junk}), "jack@fail.test", plain("jack@town.test"), Junk},
		{"p=quarantine softened to inbox", pipeline(&PolicyJudge{OnReject: Reject, OnQuarantine: Deliver}), "jack@soft.test", plain("jack@quar.test"), Deliver},
		{"accept_from domain", pipeline(&PolicyJudge{OnReject: Reject, OnQuarantine: Junk, AcceptFrom: []string{"Town.Test"}}), "jack@fail.test", plain("jack@town.test"), Deliver},
		{"accept_from address", pipeline(&PolicyJudge{OnReject: Reject, OnQuarantine: Junk, AcceptFrom: []string{"jack@fail.test"}}), "jack@fail.test", plain("jack@town.test"), Deliver},
		// Local From without a DMARC record: never the INBOX, even
		// for accept_from.
		{"local From fails", pipeline(&PolicyJudge{OnReject: Reject, OnQuarantine: Deliver, AcceptFrom: []string{"hill.test"}}), "jack@pass.test", plain("boss@hill.test"), Junk},
		// The score: p=none failing DMARC (no record: none) alone is not
		// spam; DMARC fail with SPF fail is.
		{"no record, spf fail", def, "jack@fail.test", plain("jack@nodmarc.test"), Deliver},
	} {
		d := tc.p.Decide(context.Background(), msg(tc.mailFrom, "mx.town.test", tc.content))
		if d.Action != tc.want {
			t.Errorf("%s: %v (%s; dmarc %+v), want %v", tc.name, d.Action, d.Reason, d.Results.DMARC, tc.want)
		}
		if !strings.HasPrefix(d.Header, "Authentication-Results: mx.hill.test;") {
			t.Errorf("%s: header %q", tc.name, d.Header)
		}
		if d.Action == Reject && (d.Code != 550 || d.Enhanced != "5.7.1") {
			t.Errorf("%s: reply %d %s", tc.name, d.Code, d.Enhanced)
		}
	}
}

func TestScore(t *testing.T) {
	j := &ScoreJudge{}
	p := &Pipeline{Checker: &Checker{Hostname: "mx.hill.test"}, Judges: []Judge{JudgeFunc(func(ctx context.Context, m *Message) Verdict {
		// Stands in for the checks' outcome: fail everything.
		m.Results.DMARC.Value, m.Results.SPF.Value, m.Results.IPRev.Value = "fail", "fail", "fail"
		return Verdict{}
	}), j}}
	p.Checker.Resolver = newChecker(t, nil).Resolver
	d := p.Decide(context.Background(), msg("a@b.test", "x.test", plain("a@b.test")))
	if d.Action != Junk || d.Score != scoreDMARCFail+scoreSPFFail+scoreNoIPRev {
		t.Fatalf("all failed: %v score %.1f", d.Action, d.Score)
	}
	// An earlier verdict (a DNSBL at connect) counts too.
	m := msg("a@b.test", "x.test", plain("a@b.test"))
	m.Earlier = []Verdict{{Judge: "dnsbl", Score: DefaultJunkScore, Reason: "listed"}}
	d = (&Pipeline{Checker: p.Checker}).Decide(context.Background(), m)
	if d.Action != Junk {
		t.Fatalf("earlier score: %v %.1f", d.Action, d.Score)
	}
	if d.JunkScore != DefaultJunkScore {
		t.Errorf("JunkScore %v with the default threshold", d.JunkScore)
	}
	// The operator's threshold is the one judged by, and is told on.
	d = (&Pipeline{Checker: p.Checker, JunkScore: 2 * DefaultJunkScore}).Decide(context.Background(), m)
	if d.Action != Deliver || d.JunkScore != 2*DefaultJunkScore {
		t.Fatalf("earlier score under junk_score %v: %v, JunkScore %v", 2*DefaultJunkScore, d.Action, d.JunkScore)
	}
	// Blocklists scored rather than refused count per list, and not for
	// mail from accept_from.
	listed := &Message{Results: &Results{}, Listed: []string{"bl.example.org", "zen.example.net"}}
	if v := j.Judge(context.Background(), listed); v.Score != 2*scoreDNSBL || v.Reason != "dnsbl=bl.example.org dnsbl=zen.example.net" {
		t.Fatalf("listed: %+v", v)
	}
	listed.MailFrom = "list@example.org"
	if v := (&ScoreJudge{AcceptFrom: []string{"example.org"}}).Judge(context.Background(), listed); v.Score != 0 {
		t.Fatalf("listed but accepted: %+v", v)
	}
	// The most severe action wins.
	d = (&Pipeline{Checker: p.Checker, Judges: []Judge{
		JudgeFunc(func(context.Context, *Message) Verdict { return Verdict{Action: Junk} }),
		JudgeFunc(func(context.Context, *Message) Verdict { return Verdict{Action: TempFail, Reason: "later"} }),
		JudgeFunc(func(context.Context, *Message) Verdict { return Verdict{Action: Deliver} }),
	}}).Decide(context.Background(), msg("a@b.test", "x.test", plain("a@b.test")))
	if d.Action != TempFail || d.Code != 451 || d.Enhanced != "4.7.1" || d.Reason != "later" {
		t.Fatalf("combined: %+v", d)
	}
}

// TestPipelineWithoutChecks: a Pipeline without a Checker runs its judges
// only (no Authentication-Results, no results for them), and the fields
// the judges remove reach the Decision sorted and merged with the forged
// results, each byte once.
func TestPipelineWithoutChecks(t *testing.T) {
	header := []byte("Authentication-Results: mx.hill.test; spf=pass\r\nX-A: 1\r\nX-B: 2\r\n\r\n")
	m := &Message{Header: header, HeaderComplete: true}
	xa, xb := FieldSpans(header, "X-A")[0], FieldSpans(header, "x-b")[0]
	var saw *Results
	p := &Pipeline{Judges: []Judge{
		JudgeFunc(func(_ context.Context, m *Message) Verdict {
			saw = m.Results
			return Verdict{Judge: "a", Remove: []Span{xb, xa}, Header: "X-C: 3\r\n"}
		}),
		JudgeFunc(func(context.Context, *Message) Verdict { return Verdict{Judge: "b", Remove: []Span{xa}} }),
	}}
	d := p.Decide(context.Background(), m)
	if saw != nil || d.Results != nil || d.Header != "X-C: 3\r\n" || d.Action != Deliver {
		t.Fatalf("without checks: results %v, decision %+v", saw, d)
	}
	if want := []Span{{xa.Start, xb.End}}; len(d.Remove) != 1 || d.Remove[0] != want[0] {
		t.Fatalf("remove %v, want %v (X-A %v, X-B %v)", d.Remove, want, xa, xb)
	}
	if string(header[xa.Start:xa.End]) != "X-A: 1\r\n" {
		t.Fatalf("FieldSpans X-A: %q", header[xa.Start:xa.End])
	}

	// With the checks, the forged results go too, before the judges'.
	p.Checker = &Checker{Hostname: "mx.hill.test", Resolver: newChecker(t, nil).Resolver}
	m = msg("a@b.test", "x.test", append(header, "body\r\n"...))
	d = p.Decide(context.Background(), m)
	if len(d.Remove) != 1 || d.Remove[0] != (Span{0, xb.End}) || !strings.HasPrefix(d.Header, "Authentication-Results: mx.hill.test;") {
		t.Fatalf("with checks: remove %v header %q", d.Remove, d.Header)
	}
}

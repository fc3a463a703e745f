package rspamd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"pail/internal/metrics"
	"pail/internal/verify"
)

// judgedMsg carries a forged X-Spam-Status, a forged
// Authentication-Results of pail's and a foreign one.
const judgedMsg = "From: a@far.test\r\nX-Spam-Status: No, score=-100\r\n" +
	"Authentication-Results: mx.hill.test; dmarc=pass\r\nAuthentication-Results: mx.far.test; spf=pass\r\n" +
	"X-Spam: yes\r\nSubject: lunch\r\n\r\nShall we meet on Tuesday?\r\n"

// judged is a verify.Message for content as smtpd makes it, with results
// as the checks would leave them.
func judged(content string) *verify.Message {
	m := &verify.Message{ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "mail.far.test", MailFrom: "a@far.test",
		Rcpts: []string{"bob@hill.test", "jill@hill.test"}, ID: "Q7",
		Content: strings.NewReader(content), Size: int64(len(content)),
		Results: &verify.Results{AuthServID: "mx.hill.test", SPF: verify.SPFResult{Value: "fail", MailFrom: "a@far.test"},
			DMARC: verify.DMARCResult{Value: "fail", Domain: "far.test"}, IPRev: verify.IPRevResult{Value: "pass", Name: "mail.far.test."}}}
	m.Header, m.HeaderComplete, _ = verify.ReadHeader(m.Content, m.Size)
	return m
}

// stored is content as the Decision makes it stored: the fields on top,
// the spans left out.
func stored(d verify.Decision, content string) string {
	var b strings.Builder
	b.WriteString(d.Header)
	pos := int64(0)
	for _, s := range d.Remove {
		b.WriteString(content[pos:s.Start])
		pos = s.End
	}
	b.WriteString(content[pos:])
	return b.String()
}

// TestJudge: each action of rspamd becomes pail's, the message goes to
// rspamd with its envelope and pail's Authentication-Results (the forged
// one left out), and the stored copy has rspamd's X-Spam-* fields instead
// of the sender's.
func TestJudge(t *testing.T) {
	reply := ""
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, reply) })
	reg := metrics.NewRegistry()
	j := &Judge{Client: newClient(t, Config{URL: rec.url, MTAName: "mx.hill.test"}, reg), Fallback: &verify.ScoreJudge{}}
	p := &verify.Pipeline{Judges: []verify.Judge{j}}
	for i, tc := range []struct {
		reply    string
		action   verify.Action
		code     int
		enhanced string
		reason   string
		fields   []string // in the stored copy
	}{
		{`{"action":"reject","score":1001,"required_score":15,"symbols":{"GTUBE":{"name":"GTUBE","score":0}},"messages":{"smtp_message":"Gtube pattern"}}`,
			verify.Reject, 554, "5.7.1", "Gtube pattern", nil},
		{`{"action":"soft reject","score":3,"required_score":15,"messages":{"smtp_message":"Try again later"}}`,
			verify.TempFail, 451, "4.7.1", "Try again later", nil},
		{addHeaderReply, verify.Junk, 0, "", "rspamd: add header, score 7.50/15.00",
			[]string{"X-Spam-Flag: YES\r\n", "X-Spam-Status: Yes, score=7.50 required=15.00 tests=BAYES_SPAM, MIME_GOOD\r\n", "X-Spam-Action: add header\r\n", "X-Spamd-Bar: +++++++\r\n"}},
		{`{"action":"rewrite subject","score":9,"required_score":15,"subject":"[SPAM] lunch"}`, verify.Junk, 0, "", "rspamd: rewrite subject, score 9.00/15.00",
			[]string{"X-Spam-Flag: YES\r\n", "X-Spam-Action: rewrite subject\r\n", "Subject: [SPAM] lunch\r\n"}},
		{`{"action":"no action","score":-0.5,"required_score":15}`, verify.Deliver, 0, "", "",
			[]string{"X-Spam-Status: No, score=-0.50 required=15.00\r\n", "X-Spam-Score: -0.50\r\n", "X-Spam-Action: no action\r\n"}},
	} {
		reply = tc.reply
		d := p.Decide(context.Background(), judged(judgedMsg))
		if d.Action != tc.action || d.Code != tc.code || d.Enhanced != tc.enhanced || d.Reason != tc.reason {
			t.Errorf("%s: decision %v %d %s %q", tc.reply, d.Action, d.Code, d.Enhanced, d.Reason)
		}
		if tc.action >= verify.TempFail {
			continue
		}
		got := stored(d, judgedMsg)
		for _, f := range tc.fields {
			if !strings.Contains(got, f) {
				t.Errorf("%s: stored copy lacks %q:\n%s", tc.reply, f, got)
			}
		}
		// The sender's X-Spam-Status is gone, and X-Spam too when rspamd
		// asks (add header); the Authentication-Results are the
		// Pipeline's business (no Checker here: both stay).
		if strings.Contains(got, "score=-100") || strings.Contains(got, "X-Spam: yes") != (i != 2) ||
			!strings.Contains(got, "Authentication-Results: mx.far.test; spf=pass\r\n") || strings.Count(got, "\r\nSubject: ") != 1 {
			t.Errorf("%s: stored copy:\n%s", tc.reply, got)
		}
	}

	// What rspamd got: the envelope in its request headers, pail's
	// results on top of the message, the forged ones left out.
	r := rec.requests()[0]
	for k, want := range map[string]string{"From": "a@far.test", "Rcpt": "bob@hill.test,jill@hill.test", "Ip": "192.0.2.7",
		"Helo": "mail.far.test", "Hostname": "mail.far.test", "Queue-Id": "Q7", "Mta-Name": "mx.hill.test", "User": ""} {
		if got := strings.Join(r.header.Values(k), ","); got != want {
			t.Errorf("request header %s = %q, want %q", k, got, want)
		}
	}
	wantBody := judged(judgedMsg).Results.Field() + strings.Replace(judgedMsg, "Authentication-Results: mx.hill.test; dmarc=pass\r\n", "", 1)
	if r.body != wantBody {
		t.Errorf("rspamd got:\n%s\nwant:\n%s", r.body, wantBody)
	}
	if !strings.HasPrefix(r.body, "Authentication-Results: mx.hill.test;\r\n\tspf=fail") {
		t.Errorf("rspamd got no results on top:\n%s", r.body)
	}
	// Without the checks' results the message goes as it came.
	m := judged(judgedMsg)
	m.Results = nil
	j.Judge(context.Background(), m)
	reqs := rec.requests()
	if r := reqs[len(reqs)-1]; r.body != judgedMsg || r.header.Get("Hostname") != "" {
		t.Errorf("without results rspamd got Hostname %q:\n%s", r.header.Get("Hostname"), r.body)
	}
	if got := metricsText(reg); !strings.Contains(got, `pail_rspamd_checks_total{result="reject"} 1`) || !strings.Contains(got, `pail_rspamd_checks_total{result="error"} 0`) {
		t.Errorf("metrics:\n%s", got)
	}
}

// TestJudgeRspamdFails: a dead or silent rspamd refuses nothing: the
// message is judged by the built-in score instead (Junk for a failed
// SPF and DMARC) or delivered without one, the sender's X-Spam-* fields
// still removed, the failure counted and logged, within the timeout.
func TestJudgeRspamdFails(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	silent := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	const timeout = 300 * time.Millisecond
	for _, url := range []string{silent.url, dead} {
		for _, fallback := range []verify.Judge{&verify.ScoreJudge{}, nil} {
			name := fmt.Sprintf("%s fallback %v", url, fallback != nil)
			reg := metrics.NewRegistry()
			var log bytes.Buffer
			j := &Judge{Client: newClient(t, Config{URL: url, Timeout: timeout}, reg), Fallback: fallback, Log: slog.New(slog.NewTextHandler(&log, nil))}
			start := time.Now()
			d := (&verify.Pipeline{Judges: []verify.Judge{j}}).Decide(context.Background(), judged(judgedMsg))
			if took := time.Since(start); took > timeout+2*time.Second {
				t.Errorf("%s: took %s with a %s timeout", name, took, timeout)
			}
			want := verify.Deliver
			if fallback != nil {
				want = verify.Junk // spf=fail, dmarc=fail
			}
			if d.Action != want || d.Code != 0 {
				t.Errorf("%s: %v %d %q", name, d.Action, d.Code, d.Reason)
			}
			got := stored(d, judgedMsg)
			if strings.Contains(got, "X-Spam-Status") || !strings.Contains(got, "X-Spam: yes") || d.Header != "" {
				t.Errorf("%s: stored copy:\n%s", name, got)
			}
			if m := metricsText(reg); !strings.Contains(m, `pail_rspamd_checks_total{result="error"} 1`) {
				t.Errorf("%s: metrics:\n%s", name, m)
			}
			if !strings.Contains(log.String(), "rspamd gave no answer") || !strings.Contains(log.String(), "id=Q7") {
				t.Errorf("%s: log %q", name, log.String())
			}
		}
	}
}

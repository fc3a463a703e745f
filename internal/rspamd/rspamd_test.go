package rspamd

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pail/internal/metrics"
)

// request is what the recording server received.
type request struct {
	method, path string
	header       http.Header
	body         string
	chunked      bool
}

// recorder is a real HTTP server on 127.0.0.1 that records each request
// and answers with what reply returns.
type recorder struct {
	url   string
	mu    sync.Mutex
	reqs  []request
	reply func(w http.ResponseWriter, r *http.Request)
}

func newRecorder(t *testing.T, reply func(w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{reply: reply}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{r.Method, r.URL.Path, r.Header.Clone(), string(body), slices.Contains(r.TransferEncoding, "chunked")})
		rec.mu.Unlock()
		rec.reply(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	rec.url = "http://" + ln.Addr().String()
	return rec
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

func jsonReply(body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

func newClient(t *testing.T, cfg Config, reg *metrics.Registry) *Client {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	c, err := New(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func metricsText(reg *metrics.Registry) string {
	var b strings.Builder
	reg.WriteTo(&b)
	return b.String()
}

const testMsg = "From: a@far.test\r\nTo: bob@hill.test\r\nSubject: lunch\r\n\r\nShall we meet on Tuesday?\r\n"

// addHeaderReply is a /checkv2 reply as rspamd 3.4 writes it, with the
// milter block of its milter_headers module in each of its shapes.
const addHeaderReply = `{"is_skipped":false,"score":7.5,"required_score":15.0,"action":"add header",
"symbols":{"BAYES_SPAM":{"name":"BAYES_SPAM","score":5.1,"metric_score":5.1,"description":"Bayes says spam","options":["99.0%"]},
"MIME_GOOD":{"name":"MIME_GOOD","score":-0.1,"metric_score":-0.1},"RCPT_COUNT_ONE":{"name":"RCPT_COUNT_ONE","score":0.0}},
"messages":{"smtp_message":"Spam, go away"},"message-id":"1@far.test","time_real":0.01,
"milter":{"add_headers":{"X-Spamd-Bar":{"value":"+++++++","order":0},"X-Rspamd-Server":"mx1","X-Rspamd-Queue-Id":[{"value":"Q1","order":1}]},
"remove_headers":{"X-Spam":0,"X-Spamd-Bar":1}}}`

// TestCheckRequest checks what Check sends (the request headers of
// rspamd's protocol, the message as it is) and what it makes of the
// reply.
func TestCheckRequest(t *testing.T) {
	rec := newRecorder(t, jsonReply(addHeaderReply))
	reg := metrics.NewRegistry()
	c := newClient(t, Config{URL: rec.url + "/rspamd/", MTAName: "mx.hill.test"}, reg)
	res, err := c.Check(context.Background(), strings.NewReader(testMsg), Envelope{
		From:       "a@far.test",
		Rcpts:      []string{"bob@hill.test", "jill@hill.test"},
		ClientIP:   netip.MustParseAddr("::ffff:192.0.2.7"),
		Helo:       "mail.far.test",
		Hostname:   "mail.far.test",
		User:       "a@far.test",
		QueueID:    "Q1",
		TLSVersion: "TLSv1.3",
		TLSCipher:  "TLS_AES_128_GCM_SHA256",
	})
	if err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.method != "POST" || r.path != "/rspamd/checkv2" || r.body != testMsg {
		t.Errorf("request %s %s body %q", r.method, r.path, r.body)
	}
	for k, want := range map[string][]string{
		"From":        {"a@far.test"},
		"Rcpt":        {"bob@hill.test", "jill@hill.test"},
		"Ip":          {"192.0.2.7"},
		"Helo":        {"mail.far.test"},
		"Hostname":    {"mail.far.test"},
		"User":        {"a@far.test"},
		"Queue-Id":    {"Q1"},
		"Mta-Name":    {"mx.hill.test"},
		"Tls-Version": {"TLSv1.3"},
		"Tls-Cipher":  {"TLS_AES_128_GCM_SHA256"},
		"Password":    nil,
	} {
		if got := r.header.Values(k); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if res.Action != AddHeader || res.Score != 7.5 || res.RequiredScore != 15 || res.SMTPMessage != "Spam, go away" || res.MessageID != "1@far.test" {
		t.Errorf("result %+v", res)
	}
	if s := res.Symbols["BAYES_SPAM"]; s.Score != 5.1 || s.Description != "Bayes says spam" || len(s.Options) != 1 || len(res.Symbols) != 3 {
		t.Errorf("symbols %+v", res.Symbols)
	}
	wantAdd := []Header{{"X-Spamd-Bar", "+++++++"}, {"X-Rspamd-Queue-Id", "Q1"}, {"X-Rspamd-Server", "mx1"}}
	if len(res.AddHeaders) != 3 || res.AddHeaders[0] != wantAdd[0] || res.AddHeaders[1] != wantAdd[1] || res.AddHeaders[2] != wantAdd[2] {
		t.Errorf("add headers %q, want %q", res.AddHeaders, wantAdd)
	}
	if len(res.RemoveHeaders) != 2 || res.RemoveHeaders["X-Spam"] != 0 || res.RemoveHeaders["X-Spamd-Bar"] != 1 {
		t.Errorf("remove headers %v", res.RemoveHeaders)
	}
	if m := metricsText(reg); !strings.Contains(m, `pail_rspamd_checks_total{result="add header"} 1`) || !strings.Contains(m, `pail_rspamd_checks_total{result="error"} 0`) {
		t.Errorf("metrics:\n%s", m)
	}

	// The null reverse-path is "<>"; empty fields are not sent; a
	// message of unknown length goes chunked.
	if _, err := c.Check(context.Background(), io.MultiReader(strings.NewReader(testMsg)), Envelope{}); err != nil {
		t.Fatal(err)
	}
	r = rec.requests()[1]
	if r.header.Get("From") != "<>" || r.body != testMsg || !r.chunked {
		t.Errorf("null sender: From %q, chunked %v, body %q", r.header.Get("From"), r.chunked, r.body)
	}
	for _, k := range []string{"Rcpt", "Ip", "Helo", "Hostname", "User", "Queue-Id", "Tls-Version"} {
		if v, ok := r.header[k]; ok {
			t.Errorf("empty envelope sent %s: %q", k, v)
		}
	}
}

// TestCheckFailures: every way rspamd can fail to answer is an error,
// returned in time and counted, with the zero Result (which delivers).
func TestCheckFailures(t *testing.T) {
	huge := `{"action":"no action","score":0,"x":"` + strings.Repeat("a", maxReplyBytes) + `"}`
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	for _, tc := range []struct {
		name  string
		reply func(http.ResponseWriter, *http.Request)
		want  string
	}{
		{"bad JSON", jsonReply(`{"action": "reject", `), "not rspamd's JSON"},
		{"no action", jsonReply(`{"score": 20}`), "no action"},
		{"not JSON", jsonReply(`pong`), "not rspamd's JSON"},
		{"huge body", jsonReply(huge), "larger than"},
		{"HTTP 500", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, `{"error":"invalid command\r\n"}`)
		}, "HTTP 500: invalid command"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}, "timeout awaiting response headers|deadline exceeded"},
		{"slow body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"action":`)
			w.(http.Flusher).Flush()
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}, "deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, tc.reply)
			reg := metrics.NewRegistry()
			c := newClient(t, Config{URL: rec.url, Timeout: 300 * time.Millisecond}, reg)
			start := time.Now()
			res, err := c.Check(context.Background(), strings.NewReader(testMsg), Envelope{})
			if err == nil || !containsAny(err.Error(), strings.Split(tc.want, "|")) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s with a 300ms timeout", d)
			}
			if v := res.Verdict(); v.Disposition != Deliver || len(v.Headers) != 0 {
				t.Errorf("verdict after an error: %+v", v)
			}
			if m := metricsText(reg); !strings.Contains(m, `pail_rspamd_checks_total{result="error"} 1`) {
				t.Errorf("metrics:\n%s", m)
			}
		})
	}
	// Nothing listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, Config{URL: "http://" + addr}, nil)
	if _, err := c.Check(context.Background(), strings.NewReader(testMsg), Envelope{}); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("dead rspamd: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "127.0.0.1:11333", Timeout: time.Second},
		{URL: "http://127.0.0.1:11333", ControllerURL: "unix:/x", Timeout: time.Second},
		{URL: "http://127.0.0.1:11333"},
	} {
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestLearn(t *testing.T) {
	status := http.StatusOK
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch status {
		case http.StatusAlreadyReported:
			w.WriteHeader(status)
			io.WriteString(w, `{"error":"<1@far.test> has been already learned as spam, ignore it"}`)
		case http.StatusOK:
			io.WriteString(w, `{"success":true}`)
		default:
			w.WriteHeader(status)
			io.WriteString(w, `{"error":"Unauthorized"}`)
		}
	})
	c := newClient(t, Config{URL: "http://127.0.0.1:1", ControllerURL: rec.url, Password: "q1"}, nil)
	ctx := context.Background()
	if err := c.Learn(ctx, true, strings.NewReader(testMsg)); err != nil {
		t.Fatal(err)
	}
	if err := c.Learn(ctx, false, strings.NewReader(testMsg)); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 2 || reqs[0].path != "/learnspam" || reqs[1].path != "/learnham" || reqs[0].method != "POST" {
		t.Fatalf("requests %+v", reqs)
	}
	for _, r := range reqs {
		if r.header.Get("Password") != "q1" || r.body != testMsg {
			t.Errorf("%s: Password %q body %q", r.path, r.header.Get("Password"), r.body)
		}
	}
	status = http.StatusAlreadyReported
	if err := c.Learn(ctx, true, strings.NewReader(testMsg)); !errors.Is(err, ErrNotLearned) || !strings.Contains(err.Error(), "already learned") {
		t.Errorf("208: %v", err)
	}
	status = http.StatusForbidden
	if err := c.Learn(ctx, true, strings.NewReader(testMsg)); err == nil || errors.Is(err, ErrNotLearned) || !strings.Contains(err.Error(), "HTTP 403: Unauthorized") {
		t.Errorf("403: %v", err)
	}
	noCtl := newClient(t, Config{URL: rec.url}, nil)
	if err := noCtl.Learn(ctx, true, strings.NewReader(testMsg)); !errors.Is(err, ErrNoController) {
		t.Errorf("no controller: %v", err)
	}
}

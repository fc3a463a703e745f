package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"testing"
)

// RFC 9110 §15.2: a proxy forwards 1xx responses; RFC 9111 §3: only the
// final response is stored, without the interim response's fields.
func TestInterimResponsesForwarded(t *testing.T) {
	hits := 0
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Header().Set("Link", "</s.css>; rel=preload")
		w.Header().Set("X-Hint", "1")
		w.WriteHeader(http.StatusEarlyHints)
		clear(w.Header())
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write([]byte("final"))
	}))
	t.Cleanup(o.Close)
	ou, _ := url.Parse(o.URL)
	p := newTestProxy(t, func(c *Config) { c.Origin = ou })

	get := func() (codes []int, links []string, resp *http.Response) {
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			codes = append(codes, code)
			links = append(links, h.Get("Link"))
			return nil
		}}
		req, _ := http.NewRequest("GET", p.url+"/r", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return codes, links, resp
	}
	codes, links, resp := get()
	if len(codes) != 1 || codes[0] != http.StatusEarlyHints || links[0] != "</s.css>; rel=preload" {
		t.Errorf("miss: interim responses %v %q, want one 103 with its Link", codes, links)
	}
	if resp.Header.Get("X-Hint") != "" {
		t.Errorf("miss: the 103's field leaked into the final response")
	}
	codes, _, resp = get()
	if len(codes) != 0 || hits != 1 {
		t.Errorf("hit: interim responses %v, origin hits %d; want none and 1", codes, hits)
	}
	if resp.Header.Get("X-Hint") != "" || resp.Header.Get("Link") != "" {
		t.Errorf("hit: interim fields were stored: %v", resp.Header)
	}
}

// TestInterimHopByHop checks that a forwarded 103 loses its hop-by-hop
// fields, those the fixed list names and those its Connection names (RFC
// 9110 §7.6.1), and, on a request that interim relays, gains our Via
// (§7.6.3).
func TestInterimHopByHop(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Link", "</s.css>; rel=preload")
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "1")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		w.WriteHeader(http.StatusEarlyHints)
		clear(h)
		h.Set("Cache-Control", "no-store")
		w.Write([]byte("final"))
	}))
	t.Cleanup(o.Close)
	ou, _ := url.Parse(o.URL)
	p := newTestProxy(t, func(c *Config) { c.Origin = ou; c.Name = "pail.test" })
	for _, method := range []string{"GET", "POST"} {
		var got []textproto.MIMEHeader
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, h)
			return nil
		}}
		req, _ := http.NewRequest(method, p.url+"/r", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(got) != 1 {
			t.Fatalf("%s: %d interim responses, want 1", method, len(got))
		}
		h := http.Header(got[0])
		for _, f := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Authenticate"} {
			if v, ok := h[f]; ok {
				t.Errorf("%s: the 103 kept the hop-by-hop %s: %q", method, f, v)
			}
		}
		if h.Get("Link") != "</s.css>; rel=preload" {
			t.Errorf("%s: the 103 lost its Link: %v", method, h)
		}
		if h.Get("Via") != "1.1 pail.test" {
			t.Errorf("%s: the 103's Via is %q, want %q", method, h.Get("Via"), "1.1 pail.test")
		}
	}
}

// countingWriter is a ResponseWriter that counts WriteHeader calls.
type countingWriter struct {
	h     http.Header
	codes []int
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *countingWriter) WriteHeader(code int)        { w.codes = append(w.codes, code) }

// TestInterimStop checks that after stop no 1xx reaches the client nor
// touches its header, even from a transport still calling back after
// RoundTrip returned; under -race, that the handler may then use the
// header while the callback runs.
func TestInterimStop(t *testing.T) {
	w := &countingWriter{h: http.Header{"X-Final": {"1"}}}
	ir := &interimRelay{w: w, via: "1.1 p"}
	hint := textproto.MIMEHeader{"Link": {"</a>"}}
	ir.forward(http.StatusEarlyHints, hint)
	if len(w.codes) != 1 || w.h.Get("X-Final") != "1" || w.h.Get("Link") != "" {
		t.Fatalf("before stop: codes %v, header %v", w.codes, w.h)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			ir.forward(http.StatusEarlyHints, hint)
		}
	}()
	ir.stop()
	n := len(w.codes)
	for i := range 100 {
		w.h.Set("X-Final", string(rune('a'+i%26))) // the handler's own
	}
	<-done
	if len(w.codes) != n {
		t.Errorf("%d 1xx written after stop", len(w.codes)-n)
	}
}

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

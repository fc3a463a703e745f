package mtasts

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHandler: over TLS, mta-sts.D of a known domain gets D's policy as
// text/plain that a Fetcher would accept; other hosts, paths and plain
// HTTP go to Next.
func TestHandler(t *testing.T) {
	p := &Policy{Mode: ModeTesting, MX: []string{"mx.hill.test"}, MaxAge: 604800 * time.Second}
	h := &Handler{
		Policy: func(d string) (*Policy, bool) { return p, d == "hill.test" },
		Next:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "next", http.StatusTeapot) }),
	}
	tlsSrv := httptest.NewTLSServer(h)
	defer tlsSrv.Close()
	plain := httptest.NewServer(h)
	defer plain.Close()
	get := func(base, method, host, path string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.Host = host
		resp, err := tlsSrv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	const path = "/.well-known/mta-sts.txt"
	code, ct, body := get(tlsSrv.URL, "GET", "MTA-STS.Hill.Test:8443", path)
	if code != 200 || ct != "text/plain" || body != p.String() {
		t.Fatalf("policy: %d %q %q", code, ct, body)
	}
	if back, err := ParsePolicy([]byte(body)); err != nil || back.ID() != p.ID() {
		t.Errorf("served policy parses to %+v, %v", back, err)
	}
	if code, _, body := get(tlsSrv.URL, "HEAD", "mta-sts.hill.test", path); code != 200 || body != "" {
		t.Errorf("HEAD: %d %q", code, body)
	}
	if code, _, _ := get(tlsSrv.URL, "POST", "mta-sts.hill.test", path); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", code)
	}
	for _, tc := range []struct{ base, host, path string }{
		{tlsSrv.URL, "mta-sts.far.test", path},
		{tlsSrv.URL, "hill.test", path},
		{tlsSrv.URL, "mta-sts.hill.test", "/.well-known/mta-sts.txt/x"},
		{tlsSrv.URL, "mta-sts.", path},
		{plain.URL, "mta-sts.hill.test", path}, // HTTPS only (§3.3)
	} {
		if code, _, body := get(tc.base, "GET", tc.host, tc.path); code != http.StatusTeapot {
			t.Errorf("%s %s%s: %d %q, want Next", tc.base, tc.host, tc.path, code, body)
		}
	}
}

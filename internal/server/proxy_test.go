package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pail/internal/testnet"
)

// TestServeProxyForwardRules: under `pail serve`, [proxy] forward = true
// without forward_allow does not reach the webmail on loopback (`curl -x
// PROXY http://127.0.0.1:HTTP/login`); forward_allow lets it.
func TestServeProxyForwardRules(t *testing.T) {
	for _, tc := range []struct {
		allow string
		want  int
	}{{"", http.StatusForbidden}, {`forward_allow = ["127.0.0.1"]`, http.StatusOK}} {
		dir := t.TempDir()
		httpAddr, proxyAddr := testnet.Addr(t), testnet.Addr(t)
		conf := fmt.Sprintf("hostname = \"mx.town.test\"\ndomains = [\"town.test\"]\ndata_dir = %q\n[listen]\nhttp = %q\n[proxy]\nlisten = %q\nforward = true\n%s\n",
			filepath.Join(dir, "data"), httpAddr, proxyAddr, tc.allow)
		srv := newQuiet(t, loadConf(t, dir, conf))
		srv.Start(io.Discard)
		pu, _ := url.Parse("http://" + proxyAddr)
		client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 5 * time.Second}
		resp, err := client.Get("http://" + httpAddr + "/login")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || tc.want == http.StatusForbidden && !strings.Contains(string(body), "loopback") {
			t.Errorf("%q: curl -x to the webmail: %d %q, want %d", tc.allow, resp.StatusCode, body, tc.want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		srv.Shutdown(ctx)
		cancel()
	}
}

//go:build interop

package interop

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pail/internal/testnet"
)

// chromiumPath is Debian's chromium; the suite fails without it.
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds the whole browser test.
const browserTimeout = 90 * time.Second

// webServer is a pail server whose config also lists the web pages.
type webServer struct {
	*server
	httpAddr string
}

// startWebServer starts a server with [listen] http on a free port.
func startWebServer(t *testing.T) *webServer {
	t.Helper()
	s := &webServer{server: newServer(t, serverOptions{}), httpAddr: testnet.Addr(t)}
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	if strings.Count(cfg, "[listen]\n") != 1 {
		t.Fatalf("harness config has changed: no single [listen] table in\n%s", cfg)
	}
	cfg = strings.Replace(cfg, "[listen]\n", fmt.Sprintf("[listen]\nhttp = %q\n", s.httpAddr), 1)
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.server.start()
	if err := waitListening(s.httpAddr, s.proc, time.Now().Add(startTimeout)); err != nil {
		t.Fatalf("pail serve did not come up on %s: %v", s.httpAddr, err)
	}
	return s
}

func (s *webServer) url(path string) string { return "http://" + s.httpAddr + path }

// newBrowser starts headless Chromium with a fresh profile and the flags
// that keep it off the network (see /work/shared/peers/README.md).
func newBrowser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("interop peer chromium is missing (%v); run scripts/install-deps.sh", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	return bctx, func() { bcancel(); acancel(); cancel() }
}

// artifactsDir is where screenshots go: $PAIL_ARTIFACTS, or
// test/interop/artifacts.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PAIL_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves a PNG of the browser's viewport as an artifact.
func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifactsDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// beacon is a local HTTP server that records every request: the hostile
// message points its remote loads here, so any request proves a leak.
type beacon struct {
	srv  *http.Server
	addr string
	mu   sync.Mutex
	hits []string
}

func startBeacon(t *testing.T) *beacon {
	t.Helper()
	b := &beacon{addr: testnet.Addr(t)}
	b.srv = &http.Server{Addr: b.addr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits = append(b.hits, r.Method+" "+r.URL.Path)
		b.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, ".png") {
			w.Header().Set("Content-Type", "image/png")
			w.Write(onePixelPNG)
		}
	})}
	ready := make(chan struct{})
	go func() {
		close(ready)
		b.srv.ListenAndServe()
	}()
	<-ready
	for i := 0; i < 100; i++ {
		if c, err := (&http.Client{Timeout: time.Second}).Get("http://" + b.addr + "/ready"); err == nil {
			c.Body.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.mu.Lock()
	b.hits = nil
	b.mu.Unlock()
	t.Cleanup(func() { b.srv.Close() })
	return b
}

func (b *beacon) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.hits...)
}

// onePixelPNG is a valid 1×1 PNG.
var onePixelPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

// webClient is a plain HTTP client with its own session, for checks that
// need no browser.
type webClient struct {
	t *testing.T
	s *webServer
	c *http.Client
}

func newWebClient(t *testing.T, s *webServer, addr string) *webClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &webClient{t: t, s: s, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	resp, err := c.c.PostForm(s.url("/login"), url.Values{"address": {addr}, "password": {passwordFor(addr)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/mail" {
		t.Fatalf("login as %s ended at %s (%d)", addr, resp.Request.URL, resp.StatusCode)
	}
	return c
}

func (c *webClient) get(path string) (int, string) {
	c.t.Helper()
	resp, err := c.c.Get(c.s.url(path))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

var msgLinkRE = regexp.MustCompile(`<a href="/msg/(\d+)">([^<]*)</a>`)

// messageID finds the id of the message with subject in the user's INBOX
// list.
func (c *webClient) messageID(subject string) string {
	c.t.Helper()
	_, body := c.get("/mail")
	for _, m := range msgLinkRE.FindAllStringSubmatch(body, -1) {
		if html.UnescapeString(m[2]) == subject {
			return m[1]
		}
	}
	c.t.Fatalf("no message %q in the list:\n%s", subject, body)
	return ""
}

package dnsd

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Health-check thresholds, in consecutive checks: two failures withdraw
// an edge (one lost packet does not), two successes bring it back (a
// flapping edge does not bounce in and out every second).
const (
	fallAfter       = 2
	riseAfter       = 2
	maxHealthBody   = 4 << 10 // bytes of a health answer read for its load figure
	healthUserAgent = "pail-dns-health/1"
)

// probe is the health and load of one health URL, shared by every edge
// that names it and kept across reloads.
type probe struct {
	url  string
	up   atomic.Bool
	load atomic.Uint64 // math.Float64bits of a figure in [0,1]
	stop context.CancelFunc
	// fails and oks count consecutive results; only the probe's own
	// goroutine touches them.
	fails, oks int
}

func (p *probe) isUp() bool { return p.up.Load() }

func (p *probe) loadFigure() float64 { return math.Float64frombits(p.load.Load()) }

// checker runs one goroutine per health URL.
type checker struct {
	client   *http.Client
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	probes map[string]*probe
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newChecker(interval, timeout time.Duration, log *slog.Logger) *checker {
	ctx, cancel := context.WithCancel(context.Background())
	return &checker{
		// No keep-alive: each check proves that a new connection works,
		// as a client sent to the edge will need one.
		client:   &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, CheckRedirect: noRedirect},
		interval: interval,
		timeout:  timeout,
		log:      log,
		probes:   map[string]*probe{},
		ctx:      ctx,
		cancel:   cancel,
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// use returns the probes for urls, starting those that are new and
// stopping those no longer named. An edge starts up: it is withdrawn only
// after it fails.
func (c *checker) use(urls []string) map[string]*probe {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := map[string]*probe{}
	for _, u := range urls {
		if p := c.probes[u]; p != nil {
			keep[u] = p
			continue
		}
		if c.ctx.Err() != nil {
			continue
		}
		ctx, stop := context.WithCancel(c.ctx)
		p := &probe{url: u, stop: stop}
		p.up.Store(true)
		keep[u] = p
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.run(ctx, p)
		}()
	}
	for u, p := range c.probes {
		if keep[u] == nil {
			p.stop()
		}
	}
	c.probes = keep
	return keep
}

// run checks p every interval until ctx ends.
func (c *checker) run(ctx context.Context, p *probe) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.check(ctx, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check makes one request and updates p.
func (c *checker) check(ctx context.Context, p *probe) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ok, load := c.get(ctx, p.url)
	if ctx.Err() != nil && c.ctx.Err() != nil {
		return // shutting down: no verdict
	}
	if ok {
		p.fails = 0
		p.oks++
		p.load.Store(math.Float64bits(load))
		if !p.up.Load() && p.oks >= riseAfter {
			p.up.Store(true)
			c.log.Info("dns: edge back up", "health", p.url)
		}
		return
	}
	p.oks = 0
	p.fails++
	if p.up.Load() && p.fails >= fallAfter {
		p.up.Store(false)
		c.log.Warn("dns: edge withdrawn", "health", p.url)
	}
}

// get fetches url; a 2xx answer is healthy. The body may carry the
// edge's load in [0,1]: a JSON object's "load" number, or a text line
// "proxy_load X" or "load X" (the "name value" lines of pail proxy's
// /_pail/metrics).
func (c *checker) get(ctx context.Context, url string) (ok bool, load float64) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, 0
	}
	req.Header.Set("User-Agent", healthUserAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		return false, 0
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, 0
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	return true, parseLoad(resp.Header.Get("Content-Type"), body)
}

// parseLoad finds a load figure in a health answer; 0 when there is none.
func parseLoad(ctype string, body []byte) float64 {
	if strings.Contains(ctype, "json") {
		var st struct {
			Load *float64 `json:"load"`
		}
		if json.Unmarshal(body, &st) == nil && st.Load != nil {
			return clampLoad(*st.Load)
		}
		return 0
	}
	for line := range strings.Lines(string(body)) {
		name, val, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && (name == "proxy_load" || name == "load") {
			if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
				return clampLoad(f)
			}
		}
	}
	return 0
}

func clampLoad(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return min(1, max(0, f))
}

// close stops every probe and waits for them.
func (c *checker) close() {
	c.cancel()
	c.wg.Wait()
}

package mtasts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"pail/internal/safeio"
)

// CacheFile is the name of the policy cache in the Fetcher's directory.
const CacheFile = "policies.json"

// cacheFormat is the version of the cache file's layout; a file of
// another version is ignored (and replaced at the next save).
const cacheFormat = 1

// maxCacheFileBytes bounds what is read of the cache file at start: far
// above any real cache (a policy is a few hundred bytes), low enough
// that a damaged file cannot exhaust memory.
const maxCacheFileBytes = 64 << 20

// entry is one domain's cached policy.
type entry struct {
	Domain  string    `json:"domain"`
	ID      string    `json:"id"`      // the TXT record's id it was fetched under
	Fetched time.Time `json:"fetched"` // when it was fetched; it expires max_age later
	Text    string    `json:"policy"`  // Policy.String of the parsed policy

	policy *Policy
	used   time.Time // last lookup that used it, for eviction (not saved)
}

// expires is when the entry stops applying (RFC 8461 §3.2 max_age,
// counted from the fetch, §5.1).
func (e *entry) expires() time.Time { return e.Fetched.Add(e.policy.MaxAge) }

// cacheFileData is the content of the cache file.
type cacheFileData struct {
	Format   int      `json:"format"`
	Policies []*entry `json:"policies"`
}

// cache holds the policies of other domains, bounded in entries and
// saved to a file so that they survive a restart (an attacker who can
// make pail restart must not get a window without the policy, §10.2).
type cache struct {
	path string // "" keeps the cache in memory only
	max  int

	mu      sync.Mutex
	entries map[string]*entry

	saveMu sync.Mutex // one save at a time, in order
}

// openCache reads the cache file in dir (when dir is not ""), keeping
// the entries that parse and have not expired by now. A missing file is
// an empty cache; a damaged one is reported and ignored.
func openCache(dir string, max int, now time.Time) (*cache, error) {
	c := &cache{max: max, entries: map[string]*entry{}}
	if dir == "" {
		return c, nil
	}
	if err := safeio.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mtasts: cache: %w", err)
	}
	c.path = filepath.Join(dir, CacheFile)
	f, err := os.Open(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mtasts: cache: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCacheFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("mtasts: cache: %w", err)
	}
	var d cacheFileData
	if len(data) > maxCacheFileBytes {
		return c, fmt.Errorf("mtasts: cache %s: more than %d bytes; starting empty", c.path, maxCacheFileBytes)
	}
	if err := json.Unmarshal(data, &d); err != nil || d.Format != cacheFormat {
		return c, fmt.Errorf("mtasts: cache %s: not a format %d cache file (%v); starting empty", c.path, cacheFormat, err)
	}
	for _, e := range d.Policies {
		if e == nil || !hostName(e.Domain) {
			continue
		}
		p, err := ParsePolicy([]byte(e.Text))
		if err != nil {
			continue
		}
		e.policy, e.used = p, e.Fetched
		if now.Before(e.expires()) {
			c.entries[e.Domain] = e
		}
	}
	c.evict()
	return c, nil
}

// get returns domain's entry, expired or not; nil when there is none.
// It marks the entry used at now.
func (c *cache) get(domain string, now time.Time) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[domain]
	if e != nil {
		e.used = now
	}
	return e
}

// put stores e (replacing the domain's entry) and evicts past the bound.
func (c *cache) put(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[e.Domain] = e
	c.evict()
}

// evict drops the least recently used entries past the bound. c.mu is
// held (or c is not yet shared).
func (c *cache) evict() {
	for len(c.entries) > c.max {
		var old *entry
		for _, e := range c.entries {
			if old == nil || e.used.Before(old.used) {
				old = e
			}
		}
		delete(c.entries, old.Domain)
	}
}

// save writes the unexpired entries to the cache file, atomically and
// durably (safeio).
func (c *cache) save(now time.Time) error {
	if c.path == "" {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	d := cacheFileData{Format: cacheFormat}
	for _, e := range c.entries {
		if now.Before(e.expires()) {
			cp := *e
			d.Policies = append(d.Policies, &cp)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(d.Policies, func(a, b *entry) int { return strings.Compare(a.Domain, b.Domain) })
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("mtasts: cache: %w", err)
	}
	if err := safeio.WriteFile(c.path, data, 0o600); err != nil {
		return fmt.Errorf("mtasts: cache: %w", err)
	}
	return nil
}

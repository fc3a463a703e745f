package proxy

import (
	"fmt"
	"io"
	"sync/atomic"

	"pail/internal/httpcache"
)

// Metrics counts what the cache did. All fields are safe for concurrent
// use.
type Metrics struct {
	// Requests is every request handled (admin ones included).
	Requests atomic.Int64
	// Hits were answered from the cache without contacting the origin
	// (stale ones allowed by max-stale or stale-while-revalidate too).
	Hits atomic.Int64
	// Misses went to the origin with no usable stored response.
	Misses atomic.Int64
	// Revalidations were stale entries confirmed by a 304.
	Revalidations atomic.Int64
	// StaleErrors were stale entries served because the origin failed
	// (stale-if-error).
	StaleErrors atomic.Int64
	// Passes were requests not cacheable by method or by Range.
	Passes atomic.Int64
	// Coalesced were requests that waited for another's origin fetch.
	Coalesced atomic.Int64
	// OriginErrors were answered 502 or 504.
	OriginErrors atomic.Int64
	// BytesFromCache and BytesFromOrigin count body bytes sent to clients.
	BytesFromCache  atomic.Int64
	BytesFromOrigin atomic.Int64
	// Stored counts responses committed to the store.
	Stored atomic.Int64
	// Purged counts entries removed by purge or invalidation.
	Purged atomic.Int64
	// Loops were requests that had already passed through this proxy
	// (our Via), answered 508.
	Loops atomic.Int64
	// Refused were forward-proxy requests and tunnels to destinations
	// the rules refuse, answered 403.
	Refused atomic.Int64
	// Tunnels counts CONNECT tunnels opened.
	Tunnels atomic.Int64
	// OpenConnections is a gauge: client connections open now (CONNECT
	// tunnels included).
	OpenConnections atomic.Int64

	// maxConnections is the connection cap, the denominator of Load.
	maxConnections int64
}

// Load is the edge's load in [0,1]: open client connections over the
// connection cap (Config.MaxConnections). At 1 new clients wait in the
// kernel's backlog. The CDN's name server weighs edges by it.
func (m *Metrics) Load() float64 {
	if m.maxConnections <= 0 {
		return 0
	}
	return min(1, max(0, float64(m.OpenConnections.Load())/float64(m.maxConnections)))
}

// HitRatio is hits / (hits + misses + revalidations), or 0 before any.
func (m *Metrics) HitRatio() float64 {
	h := m.Hits.Load()
	total := h + m.Misses.Load() + m.Revalidations.Load()
	if total == 0 {
		return 0
	}
	return float64(h) / float64(total)
}

// WriteText writes the counters as "name value" lines, named after the
// package (STYLE.md), followed by the store's occupancy.
func (m *Metrics) WriteText(w io.Writer, st httpcache.Stats) {
	for _, c := range []struct {
		name string
		v    *atomic.Int64
	}{
		{"requests", &m.Requests}, {"hits", &m.Hits}, {"misses", &m.Misses},
		{"revalidations", &m.Revalidations}, {"stale_if_error", &m.StaleErrors},
		{"passes", &m.Passes}, {"coalesced", &m.Coalesced}, {"origin_errors", &m.OriginErrors},
		{"bytes_from_cache", &m.BytesFromCache}, {"bytes_from_origin", &m.BytesFromOrigin},
		{"stored", &m.Stored}, {"purged", &m.Purged}, {"tunnels", &m.Tunnels},
		{"loops", &m.Loops}, {"refused", &m.Refused},
	} {
		fmt.Fprintf(w, "proxy_%s %d\n", c.name, c.v.Load())
	}
	fmt.Fprintf(w, "proxy_hit_ratio %.4f\n", m.HitRatio())
	fmt.Fprintf(w, "proxy_open_connections %d\nproxy_load %.4f\n", m.OpenConnections.Load(), m.Load())
	fmt.Fprintf(w, "proxy_store_entries %d\nproxy_store_bytes %d\nproxy_store_budget_bytes %d\nproxy_store_evictions %d\n",
		st.Entries, st.Bytes, st.Budget, st.Evictions)
}

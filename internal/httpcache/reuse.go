// Package httpcache owns HTTP caching semantics for a shared cache (RFC
// 9111) without any networking: parsing Cache-Control, deciding what may be
// stored and for how long, computing ages, choosing among Vary variants,
// evaluating conditional and Range requests against a stored response, and
// the stores that hold responses (memory with a byte budget and SIEVE
// eviction, or a directory that survives restart). Package proxy puts it on
// the network.
package httpcache

import (
	"net/http"
	"time"
)

// Use says how a stored response may satisfy a request (RFC 9111 §4).
type Use int

// Ways an entry may be used.
const (
	// Revalidate: the entry must be validated with the origin first
	// (RFC 9111 §4.3).
	Revalidate Use = iota
	// UseFresh: the entry is fresh and acceptable (§4.2).
	UseFresh
	// UseStale: the entry is stale but the client allows it (max-stale,
	// §5.2.1.2).
	UseStale
	// UseStaleWhileRevalidate: serve the stale entry and revalidate in
	// the background (RFC 5861 §3).
	UseStaleWhileRevalidate
)

// RequestDirectives returns the request's cache directives, with
// "Pragma: no-cache" standing for "Cache-Control: no-cache" when the
// request has no Cache-Control field (RFC 9111 §5.4).
//
// A request with neither field, the common case, costs no allocation: the
// result is then an empty (nil) Directives, which must not be modified.
func RequestDirectives(h http.Header) Directives {
	cc := h["Cache-Control"]
	if len(cc) > 0 {
		return parseDirectives(cc)
	}
	var d Directives
	for _, v := range h["Pragma"] {
		for _, el := range splitList(v) {
			if el == "no-cache" {
				if d == nil {
					d = Directives{}
				}
				d["no-cache"] = Directive{Valid: true}
			}
		}
	}
	return d
}

// Decide says whether e may satisfy a request with directives req at now
// (RFC 9111 §4, §4.2.4, §5.2).
func Decide(e *Entry, req Directives, now time.Time) (Use, Freshness) {
	f := FreshnessOf(e, now)
	resp := e.meta().cc
	// §5.2.2.4: unqualified no-cache: never reuse without validation.
	if resp.Has("no-cache") && !resp.Qualified("no-cache") {
		return Revalidate, f
	}
	// §5.2.1.4: the client asks for validation.
	if req.Has("no-cache") {
		return Revalidate, f
	}
	// §5.2.1.1: max-age: the client won't take anything older.
	if n, present, valid := req.Seconds("max-age"); present && valid && f.Age > time.Duration(n)*time.Second {
		return Revalidate, f
	}
	// §5.2.1.3: min-fresh: it must stay fresh at least that long.
	if n, present, valid := req.Seconds("min-fresh"); present && valid && f.Lifetime-f.Age < time.Duration(n)*time.Second {
		return Revalidate, f
	}
	if f.Fresh() {
		return UseFresh, f
	}
	if !StaleAllowed(resp) {
		return Revalidate, f
	}
	// §5.2.1.2: max-stale, with or without a limit.
	if d, ok := req["max-stale"]; ok {
		if !d.HasValue {
			return UseStale, f
		}
		if n, ok := parseDeltaSeconds(d.Value); ok && f.Staleness() <= time.Duration(n)*time.Second {
			return UseStale, f
		}
	}
	// RFC 5861 §3.
	if n, present, valid := resp.Seconds("stale-while-revalidate"); present && valid && f.Staleness() <= time.Duration(n)*time.Second {
		return UseStaleWhileRevalidate, f
	}
	return Revalidate, f
}

// StaleAllowed reports whether the response's directives permit serving
// it stale at all: must-revalidate (§5.2.2.2), proxy-revalidate
// (§5.2.2.8), s-maxage (§5.2.2.10, implies proxy-revalidate in a shared
// cache) and no-cache (§5.2.2.4) forbid it.
func StaleAllowed(resp Directives) bool {
	return !resp.Has("must-revalidate") && !resp.Has("proxy-revalidate") &&
		!resp.Has("s-maxage") && !(resp.Has("no-cache") && !resp.Qualified("no-cache"))
}

// StaleIfError reports whether e may be served stale because the origin
// failed (RFC 5861 §4: stale-if-error in the response or the request,
// within its window; RFC 9111 §4.2.4 forbids it when a directive does).
func StaleIfError(e *Entry, req Directives, now time.Time) bool {
	resp := e.meta().cc
	if !StaleAllowed(resp) {
		return false
	}
	f := FreshnessOf(e, now)
	for _, d := range []Directives{req, resp} {
		if n, present, valid := d.Seconds("stale-if-error"); present && valid && f.Staleness() <= time.Duration(n)*time.Second {
			return true
		}
	}
	return false
}

// maxDisconnectedStale bounds how stale a response pail serves when the
// origin cannot be reached: RFC 9111 §4.2.4 allows a disconnected cache to
// serve stale responses but sets no limit; a day past expiry is ours.
const maxDisconnectedStale = 24 * time.Hour

// StaleWhenDisconnected reports whether e may be served stale because the
// origin could not be reached at all (RFC 9111 §4.2.4: a cache may serve
// stale when "disconnected"), rather than answering an error: only when
// no directive forbids stale use (§4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.10,
// §5.2.2.4), the client asked for neither validation (§5.2.1.4) nor a
// maximum age (§5.2.1.1), and e is at most maxDisconnectedStale stale.
func StaleWhenDisconnected(e *Entry, req Directives, now time.Time) bool {
	if !StaleAllowed(e.meta().cc) || req.Has("no-cache") || req.Has("max-age") {
		return false
	}
	return FreshnessOf(e, now).Staleness() <= maxDisconnectedStale
}

// Select returns the most recent stored variant of key that matches req
// (RFC 9111 §4.1: "the most recent response, as determined by the Date").
// A stored 206 is never selected: it cannot answer for the whole
// representation (SelectPartial finds it).
func Select(s Store, key string, req http.Header) *Entry {
	var best *Entry
	var bestDate time.Time
	for _, e := range s.Variants(key) {
		if e.Status == http.StatusPartialContent || !VaryMatches(e, req) {
			continue
		}
		d := e.meta().date
		if best == nil || d.After(bestDate) || (d.Equal(bestDate) && e.ResponseTime.After(best.ResponseTime)) {
			best, bestDate = e, d
		}
	}
	return best
}

// Supersede removes the variants of e.Key that the newly stored e
// replaces: those the same request would have selected (RFC 9111 §4.1,
// §3.2). A stored 206 replaces only other 206s: a complete response
// still answers more than it.
func Supersede(s Store, e *Entry, req http.Header) {
	partial := e.Status == http.StatusPartialContent
	for _, old := range s.Variants(e.Key) {
		if partial && old.Status != http.StatusPartialContent {
			continue
		}
		if old.ID != e.ID && VaryMatches(old, req) {
			s.Delete(old)
		}
	}
}

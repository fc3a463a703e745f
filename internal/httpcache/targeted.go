package httpcache

import "net/http"

// TargetedField is the cache-control field that RFC 9213 targets at CDN
// caches. pail, as a CDN edge, is such a cache.
const TargetedField = "CDN-Cache-Control"

// ResponseDirectives returns the directives that govern caching a
// response. RFC 9213 §2.1: when CDN-Cache-Control has a valid, non-empty
// value, a targeted cache uses it and ignores Cache-Control and Expires
// (targeted is then true); otherwise Cache-Control applies.
//
// CDN-Cache-Control is a Structured Field Dictionary (RFC 9213 §2.1, RFC
// 8941): an invalid one is ignored as a whole. A directive whose value has
// the wrong type (a String where delta-seconds is expected, say) is kept
// as present but invalid: max-age then makes the response stale, and
// no-cache or private act unqualified, which is the cautious reading.
func ResponseDirectives(h http.Header) (d Directives, targeted bool) {
	if lines := h.Values(TargetedField); len(lines) > 0 {
		if members, ok := parseSFDictionary(lines); ok && len(members) > 0 {
			d = make(Directives, len(members))
			for _, m := range members {
				switch {
				case m.isInteger:
					d[m.key] = Directive{Value: m.integer, HasValue: true, Valid: true}
				case m.wrongType:
					d[m.key] = Directive{}
				case m.boolean:
					d[m.key] = Directive{Valid: true}
				}
			}
			return d, true
		}
	}
	return ParseCacheControl(h), false
}

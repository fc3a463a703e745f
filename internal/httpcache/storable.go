package httpcache

import (
	"net/http"
	"strings"
)

// hopByHop are the connection-specific fields of RFC 9110 §7.6.1, plus
// the obsolete Proxy-Connection and Keep-Alive that clients still send.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// RemoveHopByHop deletes the hop-by-hop fields from h: the fixed list and
// every field named by Connection (RFC 9110 §7.6.1: a proxy MUST remove
// them before forwarding).
func RemoveHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}

// understoodStatus lists the status codes whose caching requirements pail
// implements, for must-understand (RFC 9111 §5.2.2.3).
var understoodStatus = map[int]bool{
	200: true, 203: true, 204: true, 206: true, 300: true, 301: true, 302: true, 303: true,
	307: true, 308: true, 404: true, 405: true, 410: true, 414: true, 451: true, 501: true,
}

// Storable decides whether a shared cache may store a response (RFC 9111
// §3). method is the request method; reqCC the request's directives;
// hasAuth says the request carried Authorization.
func Storable(method string, reqCC Directives, hasAuth bool, status int, h http.Header) bool {
	// §3: a method the cache understands and that is cacheable; pail
	// stores GET responses only (HEAD is answered from them, §4.3.5).
	if method != http.MethodGet {
		return false
	}
	// §3: a final status code, not 304 itself; a 206 only when it holds
	// one range of a known length (§3.3, partial.go).
	if status < 200 || status == http.StatusNotModified {
		return false
	}
	if status == http.StatusPartialContent && !partialStorable(h) {
		return false
	}
	cc, targeted := ResponseDirectives(h) // RFC 9213 §2.1
	// §5.2.2.3: with must-understand, store only status codes pail
	// understands; then no-store is overridden (§5.2.2.5).
	mustUnderstand := cc.Has("must-understand")
	if mustUnderstand && !understoodStatus[status] {
		return false
	}
	if cc.Has("no-store") && !mustUnderstand {
		return false
	}
	// §5.2.1.5: no-store in the request forbids storing the response.
	if reqCC.Has("no-store") {
		return false
	}
	// §5.2.2.7: a shared cache must not store a private response; the
	// qualified form only forbids the listed fields (dropped later).
	if cc.Has("private") && !cc.Qualified("private") {
		return false
	}
	// §3.5: a request with Authorization is stored only when the response
	// allows it explicitly.
	if hasAuth && !cc.Has("must-revalidate") && !cc.Has("public") && !cc.Has("s-maxage") {
		return false
	}
	// §4.1: "Vary: *" never matches; storing it would be useless.
	for _, f := range varyFields(h) {
		if f == "*" {
			return false
		}
	}
	// §3: something must make it cacheable.
	return cc.Has("public") || hasExplicitExpiry(h, cc, targeted) || HeuristicallyCacheable(status)
}

// StoredHeader returns the header to store from a response header (RFC
// 9111 §3.1): hop-by-hop fields and those named in Connection are left
// out, as are fields listed by a qualified private (§5.2.2.7) or no-cache
// (§5.2.2.4, which forbids sending them without revalidation; pail simply
// never sends them from the cache).
func StoredHeader(h http.Header) http.Header {
	out := h.Clone()
	RemoveHopByHop(out)
	cc, _ := ResponseDirectives(h)
	for _, name := range append(cc.FieldNames("private"), cc.FieldNames("no-cache")...) {
		out.Del(name)
	}
	return out
}

// notUpdated lists fields a 304 or HEAD response must not change in a
// stored response: they describe the stored content itself (RFC 9111
// §3.2, RFC 9110 §8.6, §14.4).
var notUpdated = map[string]bool{
	"Content-Length": true, "Content-Range": true, "Content-Encoding": true, "Transfer-Encoding": true,
}

// Refresh returns a copy of stored's header updated from a 304 or HEAD
// response header (RFC 9111 §3.2, §4.3.4): every field of the new
// response replaces the stored one, except the excluded fields.
func Refresh(stored, fresh http.Header) http.Header {
	out := stored.Clone()
	upd := StoredHeader(fresh)
	for name, vs := range upd {
		if notUpdated[name] {
			continue
		}
		out[name] = append([]string(nil), vs...)
	}
	// Fields named by the new no-cache/private qualifiers go too.
	cc, _ := ResponseDirectives(fresh)
	for _, name := range append(cc.FieldNames("private"), cc.FieldNames("no-cache")...) {
		out.Del(name)
	}
	return out
}

// PostStorable decides whether the response to a POST may be stored for
// later GETs of its target URI (RFC 9110 §9.3.3: only with explicit
// freshness and a Content-Location equal to the target, which the caller
// checks), under the rules Storable applies to a GET response.
func PostStorable(reqCC Directives, hasAuth bool, status int, h http.Header) bool {
	if status == http.StatusPartialContent || !Storable(http.MethodGet, reqCC, hasAuth, status, h) {
		return false
	}
	cc, targeted := ResponseDirectives(h)
	return hasExplicitExpiry(h, cc, targeted)
}

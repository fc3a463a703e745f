package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// step is one request of a conformance case: the origin response it
// scripts and what the client must see.
type step struct {
	wait     int      // seconds the clock advances before the request
	method   string   // default GET
	path     string   // default "/r"
	req      []string // request header pairs; "@N" is a date N seconds from now
	status   int      // origin status (default 200)
	resp     []string // origin header pairs; "Date", "-" suppresses Date
	body     string   // origin body (default "body")
	origin   bool     // the origin must be contacted
	code     int      // status the client must get (default: 200)
	want     []string // response header pairs; value "*" means present
	lacks    []string // response header names that must be absent
	sent     []string // header pairs the origin request must carry ("*": present)
	notSent  []string // header names the origin request must not carry
	wantBody string   // expected body when set
	// ranged, ignoreIfRange and te set the origin's mode (origin.ranged).
	ranged, ignoreIfRange bool
	te                    string
}

type conformanceCase struct {
	section string // RFC and section
	name    string
	steps   []step
}

var (
	fresh = []string{"Cache-Control", "max-age=3600"}
	etagA = `"a"`
)

func pairs(p ...string) []string { return p }

func cat(a ...[]string) []string {
	var out []string
	for _, x := range a {
		out = append(out, x...)
	}
	return out
}

// conformanceCases is one case per requirement of RFC 9111 (and the parts
// of RFC 9110 and RFC 5861 a cache relies on), run against pail in
// reverse-proxy mode.
var conformanceCases = []conformanceCase{
	// §4.2.1 explicit freshness
	{"RFC 9111 §4.2.1", "fresh max-age response is reused", []step{
		{resp: fresh, origin: true, want: pairs("Cache-Status", "*")},
		{wait: 10, want: pairs("Age", "10")}}},
	{"RFC 9111 §4.2.1", "expired max-age response is not reused", []step{
		{resp: pairs("Cache-Control", "max-age=5"), origin: true},
		{wait: 10, origin: true}}},
	{"RFC 9111 §5.2.2.10", "s-maxage overrides a shorter max-age", []step{
		{resp: pairs("Cache-Control", "max-age=1, s-maxage=3600"), origin: true},
		{wait: 10}}},
	{"RFC 9111 §5.2.2.10", "s-maxage overrides a longer max-age", []step{
		{resp: pairs("Cache-Control", "max-age=3600, s-maxage=1"), origin: true},
		{wait: 10, origin: true}}},
	{"RFC 9111 §5.3", "future Expires is reused", []step{
		{resp: pairs("Expires", "@3600"), origin: true},
		{wait: 10}}},
	{"RFC 9111 §5.3", "past Expires is stale", []step{
		{resp: pairs("Expires", "@-10"), origin: true},
		{origin: true}}},
	{"RFC 9111 §5.3", "invalid Expires is stale", []step{
		{resp: pairs("Expires", "0"), origin: true},
		{origin: true}}},
	{"RFC 9111 §5.3", "Expires is relative to Date, not to the cache clock", []step{
		{resp: pairs("Date", "@-7200", "Expires", "@-3600"), origin: true},
		{origin: true}}},
	{"RFC 9111 §5.3", "max-age overrides Expires", []step{
		{resp: pairs("Expires", "@-10", "Cache-Control", "max-age=3600"), origin: true},
		{wait: 10}}},
	{"RFC 9111 §4.2.1", "invalid max-age makes the response stale", []step{
		{resp: pairs("Cache-Control", "max-age=a3600"), origin: true},
		{origin: true}}},
	{"RFC 9111 §5.2", "quoted max-age argument is accepted", []step{
		{resp: pairs("Cache-Control", `max-age="3600"`), origin: true},
		{wait: 10}}},
	{"RFC 9111 §5.2", "max-age inside another directive's quoted-string is ignored", []step{
		{resp: pairs("Cache-Control", `extension="max-age=3600", max-age=1`), origin: true},
		{wait: 10, origin: true}}},
	{"RFC 9111 §5.2", "max-age with space before = is not max-age", []step{
		{resp: pairs("Cache-Control", "max-age =3600"), origin: true},
		{wait: 10, origin: true}}},
	{"RFC 9111 §1.2.2", "delta-seconds with leading zeros", []step{
		{resp: pairs("Cache-Control", "max-age=003600"), origin: true},
		{wait: 10}}},
	{"RFC 9111 §1.2.2", "huge delta-seconds saturate instead of overflowing", []step{
		{resp: pairs("Cache-Control", "max-age=99999999999999999999"), origin: true},
		{wait: 10}}},
	{"RFC 9111 §5.2", "directive names are case-insensitive", []step{
		{resp: pairs("Cache-Control", "MAX-AGE=3600"), origin: true},
		{wait: 10}}},
	{"RFC 9111 §4.2.1", "duplicate max-age: the first one wins", []step{
		{resp: pairs("Cache-Control", "max-age=3600", "Cache-Control", "max-age=1"), origin: true},
		{wait: 10}}},
	{"RFC 9110 §6.6.1", "a Date is added to a response without one", []step{
		{resp: cat(fresh, pairs("Date", "-")), origin: true, want: pairs("Date", "*")},
		{wait: 5, want: pairs("Date", "*", "Age", "5")}}},
	{"RFC 9111 §4", "the stored Date is not changed", []step{
		{resp: cat(fresh, pairs("Date", "@-1")), origin: true},
		{wait: 10, want: pairs("Date", "@-11")}}},

	// §4.2.2 heuristic freshness
	{"RFC 9111 §4.2.2", "heuristic freshness from Last-Modified (200)", []step{
		{resp: pairs("Last-Modified", "@-100000"), origin: true},
		{wait: 9000}}},
	{"RFC 9111 §4.2.2", "heuristic lifetime is 10% of the Last-Modified age", []step{
		{resp: pairs("Last-Modified", "@-100000"), origin: true},
		{wait: 10100, origin: true}}},
	heuristic(203, true), heuristic(204, true), heuristic(300, true), heuristic(301, true),
	heuristic(308, true), heuristic(404, true), heuristic(405, true), heuristic(410, true),
	heuristic(414, true), heuristic(501, true),
	heuristic(302, false), heuristic(303, false), heuristic(307, false), heuristic(400, false),
	heuristic(403, false), heuristic(500, false), heuristic(502, false), heuristic(503, false),
	{"RFC 9111 §4.2.2", "public makes any status heuristically cacheable", []step{
		{status: 302, resp: pairs("Cache-Control", "public", "Last-Modified", "@-100000", "Location", "/x"), origin: true, code: 302},
		{wait: 10, code: 302}}},
	{"RFC 9111 §3", "an explicit lifetime makes a 302 cacheable", []step{
		{status: 302, resp: pairs("Cache-Control", "max-age=3600", "Location", "/x"), origin: true, code: 302},
		{wait: 10, code: 302}}},
	{"RFC 9111 §4.2.2", "no heuristic without Last-Modified", []step{
		{origin: true},
		{wait: 1, origin: true}}},

	// §4.2.3 age
	{"RFC 9111 §5.1", "Age is generated on a hit", []step{
		{resp: fresh, origin: true},
		{wait: 7, want: pairs("Age", "7")}}},
	{"RFC 9111 §4.2.3", "an upstream Age adds to the age", []step{
		{resp: cat(fresh, pairs("Age", "30")), origin: true},
		{wait: 5, want: pairs("Age", "35")}}},
	{"RFC 9111 §4.2.3", "an upstream Age can make a response stale", []step{
		{resp: pairs("Cache-Control", "max-age=60", "Age", "120"), origin: true},
		{origin: true}}},
	{"RFC 9111 §4.2.3", "apparent age from an old Date", []step{
		{resp: pairs("Cache-Control", "max-age=3600", "Date", "@-7200"), origin: true},
		{origin: true}}},
	{"RFC 9111 §5.1", "an invalid Age is ignored", []step{
		{resp: cat(fresh, pairs("Age", "abc")), origin: true},
		{wait: 3, want: pairs("Age", "3")}}},
	{"RFC 9111 §5.1", "a list-valued Age uses its first member", []step{
		{resp: pairs("Cache-Control", "max-age=60", "Age", "7200, 0"), origin: true},
		{origin: true}}},

	// §3 and §5.2.2 response directives
	{"RFC 9111 §5.2.2.5", "no-store is not stored", []step{
		{resp: pairs("Cache-Control", "max-age=3600, no-store"), origin: true},
		{origin: true}}},
	{"RFC 9111 §5.2", "NO-STORE in upper case is not stored", []step{
		{resp: pairs("Cache-Control", "max-age=3600, NO-STORE"), origin: true},
		{origin: true}}},
	{"RFC 9111 §5.2.2.7", "private is not stored by a shared cache", []step{
		{resp: pairs("Cache-Control", "max-age=3600, private"), origin: true},
		{origin: true}}},
	{"RFC 9111 §5.2.2.7", "qualified private drops only the listed fields", []step{
		{resp: pairs("Cache-Control", `max-age=3600, private="X-Secret"`, "X-Secret", "1", "X-Other", "2"), origin: true},
		{wait: 1, want: pairs("X-Other", "2"), lacks: pairs("X-Secret")}}},
	{"RFC 9111 §5.2.2.4", "no-cache is revalidated before reuse", []step{
		{resp: pairs("Cache-Control", "max-age=3600, no-cache", "ETag", etagA), origin: true},
		{status: 304, resp: pairs("ETag", etagA), origin: true, sent: pairs("If-None-Match", etagA), wantBody: "body"}}},
	{"RFC 9111 §5.2.2.4", "qualified no-cache fields are not sent from the cache", []step{
		{resp: pairs("Cache-Control", `max-age=3600, no-cache="X-A, X-B"`, "X-A", "1", "X-B", "2", "X-C", "3"), origin: true},
		{wait: 1, want: pairs("X-C", "3"), lacks: pairs("X-A", "X-B")}}},
	{"RFC 9110 §7.6.1", "fields named by Connection are not stored", []step{
		{resp: cat(fresh, pairs("Connection", "X-Hop", "X-Hop", "1", "X-Keep", "2")), origin: true, lacks: pairs("X-Hop")},
		{wait: 1, want: pairs("X-Keep", "2"), lacks: pairs("X-Hop", "Connection")}}},
	{"RFC 9111 §5.2.2.3", "must-understand with an understood status overrides no-store", []step{
		{resp: pairs("Cache-Control", "max-age=3600, must-understand, no-store"), origin: true},
		{wait: 1}}},
	{"RFC 9111 §5.2.2.3", "must-understand with an unknown status is not stored", []step{
		{status: 299, resp: pairs("Cache-Control", "max-age=3600, must-understand"), origin: true, code: 299},
		{wait: 1, status: 299, resp: pairs("Cache-Control", "max-age=3600, must-understand"), origin: true, code: 299}}},
	{"RFC 8246 §2", "immutable fresh response is reused", []step{
		{resp: pairs("Cache-Control", "max-age=3600, immutable"), origin: true},
		{wait: 100}}},
	{"RFC 9111 §5.2.2.1", "public response is stored", []step{
		{resp: pairs("Cache-Control", "public, max-age=3600"), origin: true},
		{wait: 1}}},

	// §4.2.4 stale responses
	{"RFC 9111 §4.2.4", "a stale response is not served without permission", []step{
		{resp: pairs("Cache-Control", "max-age=1"), origin: true},
		{wait: 5, origin: true, want: pairs("Cache-Status", "*")}}},
	{"RFC 5861 §4", "stale-if-error serves stale on a 5xx", []step{
		{resp: pairs("Cache-Control", "max-age=1, stale-if-error=3600"), body: "old", origin: true},
		{wait: 10, status: 503, body: "err", origin: true, wantBody: "old"}}},
	{"RFC 5861 §4", "stale-if-error in the request", []step{
		{resp: pairs("Cache-Control", "max-age=1"), body: "old", origin: true},
		{wait: 10, req: pairs("Cache-Control", "stale-if-error=3600"), status: 500, body: "err", origin: true, wantBody: "old"}}},
	{"RFC 5861 §4", "stale-if-error window passed: the error goes through", []step{
		{resp: pairs("Cache-Control", "max-age=1, stale-if-error=5"), origin: true},
		{wait: 100, status: 503, origin: true, code: 503}}},
	{"RFC 9111 §5.2.2.2", "must-revalidate forbids stale-if-error", []step{
		{resp: pairs("Cache-Control", "max-age=1, must-revalidate, stale-if-error=3600"), origin: true},
		{wait: 10, status: 503, origin: true, code: 503}}},
	{"RFC 9111 §5.2.2.8", "proxy-revalidate forbids max-stale", []step{
		{resp: pairs("Cache-Control", "max-age=1, proxy-revalidate"), origin: true},
		{wait: 10, req: pairs("Cache-Control", "max-stale"), origin: true}}},
	{"RFC 9111 §5.2.2.10", "s-maxage forbids max-stale in a shared cache", []step{
		{resp: pairs("Cache-Control", "s-maxage=1"), origin: true},
		{wait: 10, req: pairs("Cache-Control", "max-stale"), origin: true}}},
	{"RFC 9111 §5.2.2.2", "must-revalidate forbids max-stale", []step{
		{resp: pairs("Cache-Control", "max-age=1, must-revalidate"), origin: true},
		{wait: 10, req: pairs("Cache-Control", "max-stale=3600"), origin: true}}},
	{"RFC 9111 §4.2.4", "no Warning is added to a stale response", []step{
		{resp: pairs("Cache-Control", "max-age=1"), origin: true},
		{wait: 10, req: pairs("Cache-Control", "max-stale"), lacks: pairs("Warning")}}},

	// §5.2.1 request directives
	{"RFC 9111 §5.2.1.1", "request max-age=0 revalidates", []step{
		{resp: cat(fresh, pairs("ETag", etagA)), origin: true},
		{wait: 1, req: pairs("Cache-Control", "max-age=0"), status: 304, resp: pairs("ETag", etagA), origin: true, sent: pairs("If-None-Match", etagA)}}},
	{"RFC 9111 §5.2.1.1", "request max-age older than the response", []step{
		{resp: fresh, origin: true},
		{wait: 20, req: pairs("Cache-Control", "max-age=10"), origin: true}}},
	{"RFC 9111 §5.2.1.1", "request max-age younger than the response", []step{
		{resp: fresh, origin: true},
		{wait: 5, req: pairs("Cache-Control", "max-age=10")}}},
	{"RFC 9111 §5.2.1.2", "max-stale without a value accepts any stale response", []step{
		{resp: pairs("Cache-Control", "max-age=1"), origin: true},
		{wait: 1000, req: pairs("Cache-Control", "max-stale")}}},
	{"RFC 9111 §5.2.1.2", "max-stale with a value", []step{
		{resp: pairs("Cache-Control", "max-age=1"), origin: true},
		{wait: 50, req: pairs("Cache-Control", "max-stale=100")},
		{wait: 100, req: pairs("Cache-Control", "max-stale=100"), origin: true}}},
	{"RFC 9111 §5.2.1.3", "min-fresh", []step{
		{resp: fresh, origin: true},
		{req: pairs("Cache-Control", "min-fresh=60")},
		{req: pairs("Cache-Control", "min-fresh=7200"), origin: true}}},
	{"RFC 9111 §5.2.1.4", "request no-cache goes to the origin", []step{
		{resp: fresh, origin: true},
		{req: pairs("Cache-Control", "no-cache"), origin: true}}},
	{"RFC 9111 §5.4", "Pragma: no-cache without Cache-Control", []step{
		{resp: fresh, origin: true},
		{req: pairs("Pragma", "no-cache"), origin: true}}},
	{"RFC 9111 §5.4", "Pragma is ignored when Cache-Control is present", []step{
		{resp: fresh, origin: true},
		{req: pairs("Pragma", "no-cache", "Cache-Control", "max-stale=1")}}},
	{"RFC 9111 §5.2.1.5", "request no-store: the response is not stored", []step{
		{req: pairs("Cache-Control", "no-store"), resp: fresh, origin: true},
		{origin: true}}},
	{"RFC 9111 §5.2.1.7", "only-if-cached miss gives 504", []step{
		{req: pairs("Cache-Control", "only-if-cached"), code: 504}}},
	{"RFC 9111 §5.2.1.7", "only-if-cached hit", []step{
		{resp: fresh, origin: true},
		{req: pairs("Cache-Control", "only-if-cached")}}},
	{"RFC 9111 §5.2.1.7", "only-if-cached with a stale entry gives 504", []step{
		{resp: pairs("Cache-Control", "max-age=1"), origin: true},
		{wait: 10, req: pairs("Cache-Control", "only-if-cached"), code: 504}}},

	// §4.1 Vary
	{"RFC 9111 §4.1", "Vary: same request field value matches", []step{
		{req: pairs("Accept-Language", "en"), resp: cat(fresh, pairs("Vary", "Accept-Language")), origin: true},
		{req: pairs("Accept-Language", "en")}}},
	{"RFC 9111 §4.1", "Vary: a different value does not match", []step{
		{req: pairs("Accept-Language", "en"), resp: cat(fresh, pairs("Vary", "Accept-Language")), origin: true},
		{req: pairs("Accept-Language", "fr"), resp: cat(fresh, pairs("Vary", "Accept-Language")), origin: true, want: pairs("Cache-Status", "*")}}},
	{"RFC 9111 §4.1", "Vary: several variants per URL are kept", []step{
		{req: pairs("Accept-Language", "en"), resp: cat(fresh, pairs("Vary", "Accept-Language")), body: "en", origin: true},
		{req: pairs("Accept-Language", "fr"), resp: cat(fresh, pairs("Vary", "Accept-Language")), body: "fr", origin: true},
		{req: pairs("Accept-Language", "en"), wantBody: "en"},
		{req: pairs("Accept-Language", "fr"), wantBody: "fr"}}},
	{"RFC 9111 §4.1", "Vary: whitespace around commas is normalised", []step{
		{req: pairs("Accept-Language", "en,fr"), resp: cat(fresh, pairs("Vary", "Accept-Language")), origin: true},
		{req: pairs("Accept-Language", "en, fr")}}},
	{"RFC 9111 §4.1", "Vary: field lines are combined", []step{
		{req: pairs("Accept-Language", "en, fr"), resp: cat(fresh, pairs("Vary", "Accept-Language")), origin: true},
		{req: pairs("Accept-Language", "en", "Accept-Language", "fr")}}},
	{"RFC 9111 §4.1", "Vary: absent matches absent", []step{
		{resp: cat(fresh, pairs("Vary", "X-Variant")), origin: true},
		{}}},
	{"RFC 9111 §4.1", "Vary: absent does not match present", []step{
		{resp: cat(fresh, pairs("Vary", "X-Variant")), origin: true},
		{req: pairs("X-Variant", "1"), resp: cat(fresh, pairs("Vary", "X-Variant")), origin: true}}},
	{"RFC 9111 §4.1", "Vary: * never matches", []step{
		{resp: cat(fresh, pairs("Vary", "*")), origin: true},
		{resp: cat(fresh, pairs("Vary", "*")), origin: true}}},
	{"RFC 9111 §4.1", "Vary: field names are case-insensitive", []step{
		{req: pairs("X-Variant", "1"), resp: cat(fresh, pairs("Vary", "x-VARIANT")), origin: true},
		{req: pairs("X-Variant", "1")}}},
	{"RFC 9111 §4.1", "Vary: several fields, one differs", []step{
		{req: pairs("X-A", "1", "X-B", "1"), resp: cat(fresh, pairs("Vary", "X-A, X-B")), origin: true},
		{req: pairs("X-A", "1", "X-B", "2"), resp: cat(fresh, pairs("Vary", "X-A, X-B")), origin: true}}},
	{"RFC 9111 §4.1", "Vary: the field on two lines", []step{
		{req: pairs("X-A", "1", "X-B", "1"), resp: cat(fresh, pairs("Vary", "X-A", "Vary", "X-B")), origin: true},
		{req: pairs("X-A", "1", "X-B", "2"), resp: cat(fresh, pairs("Vary", "X-A")), origin: true}}},

	// §3.5 Authorization
	{"RFC 9111 §3.5", "a response to an authorised request is not stored", []step{
		{req: pairs("Authorization", "Basic eDp5"), resp: fresh, origin: true},
		{req: pairs("Authorization", "Basic eDp5"), origin: true}}},
	{"RFC 9111 §3.5", "public allows storing an authorised response", []step{
		{req: pairs("Authorization", "Basic eDp5"), resp: pairs("Cache-Control", "public, max-age=3600"), origin: true},
		{req: pairs("Authorization", "Basic eDp5")}}},
	{"RFC 9111 §3.5", "s-maxage allows storing an authorised response", []step{
		{req: pairs("Authorization", "Basic eDp5"), resp: pairs("Cache-Control", "s-maxage=3600"), origin: true},
		{req: pairs("Authorization", "Basic eDp5")}}},
	{"RFC 9111 §3.5", "must-revalidate allows storing an authorised response", []step{
		{req: pairs("Authorization", "Basic eDp5"), resp: pairs("Cache-Control", "max-age=3600, must-revalidate"), origin: true},
		{req: pairs("Authorization", "Basic eDp5")}}},

	// §4.4 invalidation
	invalidation("POST"), invalidation("PUT"), invalidation("DELETE"), invalidation("PATCH"),
	{"RFC 9111 §4.4", "a failed unsafe request does not invalidate", []step{
		{resp: fresh, origin: true},
		{method: "POST", status: 500, origin: true, code: 500},
		{}}},
	{"RFC 9111 §4.4", "a safe method does not invalidate", []step{
		{resp: fresh, origin: true},
		{method: "OPTIONS", origin: true},
		{}}},
	{"RFC 9111 §4.4", "Location on the same origin is invalidated", []step{
		{path: "/other", resp: fresh, origin: true},
		{method: "POST", status: 201, resp: pairs("Location", "/other"), origin: true, code: 201},
		{path: "/other", origin: true}}},
	{"RFC 9111 §4.4", "Content-Location on the same origin is invalidated", []step{
		{path: "/other", resp: fresh, origin: true},
		{method: "PUT", resp: pairs("Content-Location", "/other"), origin: true},
		{path: "/other", origin: true}}},
	{"RFC 9111 §4.4", "Location on another origin is not invalidated", []step{
		{path: "/other", resp: fresh, origin: true},
		{method: "POST", status: 201, resp: pairs("Location", "http://elsewhere.test/other"), origin: true, code: 201},
		{path: "/other"}}},
	{"RFC 9111 §2", "responses to other methods are not stored", []step{
		{method: "POST", resp: fresh, origin: true},
		{method: "POST", resp: fresh, origin: true}}},

	// §4.3 validation
	{"RFC 9111 §4.3.1", "stale entry with ETag is revalidated with If-None-Match", []step{
		{resp: pairs("Cache-Control", "max-age=1", "ETag", etagA), origin: true},
		{wait: 10, status: 304, resp: pairs("ETag", etagA), origin: true, sent: pairs("If-None-Match", etagA), wantBody: "body", want: pairs("ETag", etagA)}}},
	{"RFC 9111 §4.3.1", "stale entry with Last-Modified is revalidated with If-Modified-Since", []step{
		{resp: pairs("Cache-Control", "max-age=1", "Last-Modified", "Thu, 01 Jan 2026 00:00:00 GMT"), origin: true},
		{wait: 10, status: 304, origin: true, sent: pairs("If-Modified-Since", "Thu, 01 Jan 2026 00:00:00 GMT"), wantBody: "body"}}},
	{"RFC 9111 §4.3.4", "a 304 updates the returned and stored header", []step{
		{resp: pairs("Cache-Control", "max-age=1", "ETag", etagA, "X-Val", "A"), origin: true},
		{wait: 10, status: 304, resp: pairs("Cache-Control", "max-age=3600", "ETag", etagA, "X-Val", "B"), origin: true, want: pairs("X-Val", "B")},
		{wait: 10, want: pairs("X-Val", "B", "Cache-Control", "max-age=3600")}}},
	{"RFC 9111 §4.3.4", "a 304 keeps stored fields it omits", []step{
		{resp: pairs("Cache-Control", "max-age=1", "ETag", etagA, "X-Val", "A", "Content-Type", "text/x-a"), origin: true},
		{wait: 10, status: 304, resp: pairs("Cache-Control", "max-age=3600", "ETag", etagA), origin: true, want: pairs("X-Val", "A", "Content-Type", "text/x-a")}}},
	{"RFC 9111 §4.3.4", "a 304 with another ETag does not refresh the wrong entry", []step{
		{resp: pairs("Cache-Control", "max-age=1", "ETag", etagA), body: "old", origin: true},
		{wait: 10, status: 304, resp: pairs("ETag", `"b"`), origin: true, code: 304}}},
	{"RFC 9111 §4.3.3", "a full response to a revalidation replaces the entry", []step{
		{resp: pairs("Cache-Control", "max-age=1", "ETag", etagA), body: "old", origin: true},
		{wait: 10, resp: pairs("Cache-Control", "max-age=3600", "ETag", `"b"`), body: "new", origin: true, wantBody: "new"},
		{wait: 10, wantBody: "new"}}},
	{"RFC 9111 §4.3.2", "client If-None-Match answered 304 from the cache", []step{
		{resp: cat(fresh, pairs("ETag", etagA)), origin: true},
		{req: pairs("If-None-Match", etagA), code: 304, want: pairs("ETag", etagA)}}},
	{"RFC 9110 §13.1.2", "If-None-Match uses the weak comparison", []step{
		{resp: cat(fresh, pairs("ETag", `W/"a"`)), origin: true},
		{req: pairs("If-None-Match", `"x", "a"`), code: 304}}},
	{"RFC 9110 §13.1.2", "non-matching If-None-Match gets the full response", []step{
		{resp: cat(fresh, pairs("ETag", etagA)), origin: true},
		{req: pairs("If-None-Match", `"z"`), wantBody: "body"}}},
	{"RFC 9110 §13.1.3", "If-Modified-Since answered 304 from the cache", []step{
		{resp: cat(fresh, pairs("Last-Modified", "@-1000")), origin: true},
		{req: pairs("If-Modified-Since", "@-10"), code: 304}}},
	{"RFC 9110 §13.1.3", "If-Modified-Since before Last-Modified gets 200", []step{
		{resp: cat(fresh, pairs("Last-Modified", "@-1000")), origin: true},
		{req: pairs("If-Modified-Since", "@-5000"), wantBody: "body"}}},
	{"RFC 9110 §13.2.2", "If-None-Match takes precedence over If-Modified-Since", []step{
		{resp: cat(fresh, pairs("ETag", etagA, "Last-Modified", "@-1000")), origin: true},
		{req: pairs("If-None-Match", `"z"`, "If-Modified-Since", "@-10"), wantBody: "body"}}},
	{"RFC 9110 §13.1.1", "failed If-Match gets 412 from the cache", []step{
		{resp: cat(fresh, pairs("ETag", etagA)), origin: true},
		{req: pairs("If-Match", `"z"`), code: 412}}},
	{"RFC 9111 §4.3.2", "a client's conditional miss fills the cache and gets 304", []step{
		{req: pairs("If-None-Match", etagA), resp: cat(fresh, pairs("ETag", etagA)), origin: true, code: 304, notSent: pairs("If-None-Match")},
		{wantBody: "body"}}},

	// §4.3.5 HEAD
	{"RFC 9111 §4.3.5", "HEAD is answered from a stored GET", []step{
		{resp: fresh, body: "12345", origin: true},
		{method: "HEAD", want: pairs("Content-Length", "5"), wantBody: ""}}},
	{"RFC 9111 §4.3.5", "a HEAD response is not stored for GET", []step{
		{method: "HEAD", resp: fresh, origin: true},
		{origin: true}}},

	// RFC 9110 §14 ranges from a stored full response
	{"RFC 9110 §14.2", "single range from the cache", []step{
		{resp: fresh, body: "0123456789", origin: true},
		{req: pairs("Range", "bytes=2-4"), code: 206, want: pairs("Content-Range", "bytes 2-4/10"), wantBody: "234"}}},
	{"RFC 9110 §14.1.2", "suffix range from the cache", []step{
		{resp: fresh, body: "0123456789", origin: true},
		{req: pairs("Range", "bytes=-3"), code: 206, wantBody: "789"}}},
	{"RFC 9110 §14.6", "several ranges as multipart/byteranges", []step{
		{resp: fresh, body: "0123456789", origin: true},
		{req: pairs("Range", "bytes=0-1,5-6"), code: 206, want: pairs("Content-Type", "*")}}},
	{"RFC 9110 §15.5.17", "unsatisfiable range gets 416", []step{
		{resp: fresh, body: "0123456789", origin: true},
		{req: pairs("Range", "bytes=50-60"), code: 416, want: pairs("Content-Range", "bytes */10")}}},
	{"RFC 9110 §13.1.5", "If-Range with the current ETag honours the range", []step{
		{resp: cat(fresh, pairs("ETag", etagA)), body: "0123456789", origin: true},
		{req: pairs("Range", "bytes=0-0", "If-Range", etagA), code: 206, wantBody: "0"}}},
	{"RFC 9110 §13.1.5", "If-Range with an old ETag gets the whole response", []step{
		{resp: cat(fresh, pairs("ETag", etagA)), body: "0123456789", origin: true},
		{req: pairs("Range", "bytes=0-0", "If-Range", `"old"`), code: 200, wantBody: "0123456789"}}},
	{"RFC 9111 §3.3", "a stored 206 does not answer a request for the whole", []step{
		{req: pairs("Range", "bytes=0-1"), status: 206, resp: cat(fresh, pairs("Content-Range", "bytes 0-1/10")), body: "01", origin: true, code: 206, sent: pairs("Range", "bytes=0-1")},
		{origin: true}}},

	// RFC 9110 §7.6 intermediaries, RFC 9211
	{"RFC 9110 §7.6.3", "Via is added both ways", []step{
		{resp: fresh, origin: true, want: pairs("Via", "1.1 pail"), sent: pairs("Via", "1.1 pail")}}},
	{"RFC 9110 §7.6.1", "hop-by-hop request fields are not forwarded", []step{
		{req: pairs("Connection", "X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5", "X-End", "2"), origin: true,
			notSent: pairs("X-Hop", "Keep-Alive"), sent: pairs("X-End", "2")}}},
	{"RFC 9211 §2", "Cache-Status says miss then hit", []step{
		{resp: fresh, origin: true, want: pairs("Cache-Status", "pail; fwd=uri-miss; fwd-status=200; stored")},
		{want: pairs("Cache-Status", "pail; hit; ttl=3600")}}},
	{"RFC 9111 §2", "different query strings are different keys", []step{
		{path: "/r?a=1", resp: fresh, origin: true},
		{path: "/r?a=2", resp: fresh, origin: true},
		{path: "/r?a=1"}}},
}

func heuristic(status int, cacheable bool) conformanceCase {
	name := "status " + http.StatusText(status) + " is not heuristically cacheable"
	if cacheable {
		name = "status " + http.StatusText(status) + " is heuristically cacheable"
	}
	return conformanceCase{"RFC 9110 §15.1 / RFC 9111 §4.2.2", name, []step{
		{status: status, resp: pairs("Last-Modified", "@-100000"), origin: true, code: status},
		{wait: 10, status: status, resp: pairs("Last-Modified", "@-100000"), origin: !cacheable, code: status}}}
}

func invalidation(method string) conformanceCase {
	return conformanceCase{"RFC 9111 §4.4", method + " invalidates the target URI", []step{
		{resp: fresh, origin: true},
		{method: method, origin: true},
		{origin: true}}}
}

func TestConformance(t *testing.T) {
	if n := len(conformanceCases); n < 80 {
		t.Errorf("only %d conformance cases", n)
	}
	for _, tc := range append(append(conformanceCases, cacheTestsCases...), lastCases...) {
		t.Run(tc.section+" "+tc.name, func(t *testing.T) {
			p := newTestProxy(t)
			for i, st := range tc.steps {
				p.clk.advance(time.Duration(st.wait) * time.Second)
				body := st.body
				if body == "" {
					body = "body"
				}
				p.origin.script(st.status, st.resp, body)
				p.origin.mode(st.ranged, st.ignoreIfRange, st.te)
				method, path := st.method, st.path
				if method == "" {
					method = "GET"
				}
				if path == "" {
					path = "/r"
				}
				before := p.origin.count()
				resp, got := p.do(t, method, path, st.req)
				contacted := p.origin.count() > before
				where := func() string {
					return "step " + itoa(i) + " " + method + " " + path + " (Cache-Status: " + resp.Header.Get("Cache-Status") + ")"
				}
				if contacted != st.origin {
					t.Errorf("%s: origin contacted = %v, want %v", where(), contacted, st.origin)
				}
				code := st.code
				if code == 0 {
					code = 200
				}
				if resp.StatusCode != code {
					t.Errorf("%s: status %d, want %d", where(), resp.StatusCode, code)
				}
				for j := 0; j+1 < len(st.want); j += 2 {
					name, want := st.want[j], expandDate(st.want[j+1], p.clk.now())
					v, ok := resp.Header[http.CanonicalHeaderKey(name)]
					if !ok || (want != "*" && !strings.Contains(strings.Join(v, ", "), want)) {
						t.Errorf("%s: %s = %q, want %q", where(), name, v, want)
					}
				}
				for _, name := range st.lacks {
					if v := resp.Header.Values(name); len(v) > 0 {
						t.Errorf("%s: %s = %q, want absent", where(), name, v)
					}
				}
				if st.wantBody != "" || (method == "HEAD") {
					if got != st.wantBody {
						t.Errorf("%s: body %q, want %q", where(), got, st.wantBody)
					}
				}
				if contacted {
					or := p.origin.last()
					for j := 0; j+1 < len(st.sent); j += 2 {
						name, want := st.sent[j], st.sent[j+1]
						if v := or.Header.Get(name); v == "" || (want != "*" && !strings.Contains(v, want)) {
							t.Errorf("%s: origin got %s = %q, want %q", where(), name, v, want)
						}
					}
					for _, name := range st.notSent {
						if v := or.Header.Values(name); len(v) > 0 {
							t.Errorf("%s: origin got %s = %q, want absent", where(), name, v)
						}
					}
				}
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

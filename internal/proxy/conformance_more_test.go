package proxy

// cacheTestsCases are the requirements that the public cache-tests suite
// showed pail getting wrong, each fixed to the RFC and kept here so that
// they stay fixed. TestConformance runs them with conformanceCases.
var cacheTestsCases = []conformanceCase{
	// RFC 9110 §5.6.7: an HTTP-date has a fixed shape; RFC 9111 §5.3: an
	// Expires that is not one is in the past.
	{"RFC 9111 §5.3", "Expires with a one-digit hour is invalid", []step{
		{resp: pairs("Expires", "Thu, 18 Aug 2050 2:01:18 GMT"), origin: true},
		{wait: 10, origin: true}}},
	{"RFC 9111 §5.3", "Expires with doubled spaces is invalid", []step{
		{resp: pairs("Expires", "Thu, 18  Aug  2050 02:01:18 GMT"), origin: true},
		{wait: 10, origin: true}}},
	{"RFC 9110 §5.5", "two Expires lines are invalid", []step{
		{resp: pairs("Expires", "@3600", "Expires", "@3600"), origin: true},
		{wait: 10, origin: true}}},
	{"RFC 9110 §5.6.7", "rfc850-date Expires is accepted", []step{
		{resp: pairs("Expires", "Thursday, 18-Aug-50 02:01:18 GMT"), origin: true},
		{wait: 10}}},
	{"RFC 9110 §5.6.7", "asctime-date Expires is accepted", []step{
		{resp: pairs("Expires", "Thu Aug 18 02:01:18 2050"), origin: true},
		{wait: 10}}},

	// RFC 9213 §2.1: CDN-Cache-Control replaces Cache-Control and Expires.
	{"RFC 9213 §2.1", "CDN-Cache-Control max-age overrides Cache-Control no-store", []step{
		{resp: pairs("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=3600"), origin: true},
		{wait: 10, want: pairs("CDN-Cache-Control", "max-age=3600")}}},
	{"RFC 9213 §2.1", "a short CDN-Cache-Control max-age overrides a long Cache-Control one", []step{
		{resp: pairs("Cache-Control", "max-age=3600", "CDN-Cache-Control", "max-age=1"), origin: true},
		{wait: 10, origin: true}}},
	{"RFC 9213 §2.1", "CDN-Cache-Control makes Expires ignored", []step{
		{resp: pairs("CDN-Cache-Control", "max-age=0", "Expires", "@3600"), origin: true},
		{wait: 10, origin: true}}},
	{"RFC 9213 §2.1", "CDN-Cache-Control no-store is not stored", []step{
		{resp: pairs("Cache-Control", "max-age=3600", "CDN-Cache-Control", "no-store"), origin: true},
		{origin: true}}},
	{"RFC 9213 §2.1", "CDN-Cache-Control private is not stored", []step{
		{resp: pairs("Cache-Control", "max-age=3600", "CDN-Cache-Control", "private"), origin: true},
		{origin: true}}},
	{"RFC 9213 §2.1", "an invalid CDN-Cache-Control is ignored", []step{
		{resp: pairs("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=3600, &&&"), origin: true},
		{origin: true}}},
	{"RFC 9213 §2.1", "a quoted CDN-Cache-Control max-age is the wrong type", []step{
		{resp: pairs("CDN-Cache-Control", `max-age="3600"`), origin: true},
		{wait: 10, origin: true}}},

	// RFC 9111 §4.2.4: a disconnected cache may serve stale, unless a
	// directive forbids it.
	{"RFC 9111 §4.2.4", "stale is served when the origin cannot be reached", []step{
		{resp: pairs("Cache-Control", "max-age=1"), body: "old", origin: true},
		{wait: 10, status: disconnect, origin: true, wantBody: "old", want: pairs("Cache-Status", "origin-unreachable")}}},
	{"RFC 9111 §5.2.2.2", "must-revalidate: no stale when the origin cannot be reached", []step{
		{resp: pairs("Cache-Control", "max-age=1, must-revalidate"), origin: true},
		{wait: 10, status: disconnect, origin: true, code: 502}}},
	{"RFC 9111 §5.2.2.10", "s-maxage: no stale when the origin cannot be reached", []step{
		{resp: pairs("Cache-Control", "s-maxage=1"), origin: true},
		{wait: 10, status: disconnect, origin: true, code: 502}}},
	{"RFC 9111 §5.2.1.4", "request no-cache: no stale when the origin cannot be reached", []step{
		{resp: pairs("Cache-Control", "max-age=1"), origin: true},
		{wait: 10, req: pairs("Cache-Control", "no-cache"), status: disconnect, origin: true, code: 502}}},

	// RFC 9111 §4.3.5: a 200 to HEAD updates the stored GET response.
	{"RFC 9111 §4.3.5", "a HEAD 200 updates the stored GET response", []step{
		{resp: pairs("Cache-Control", "max-age=1", "X-A", "1"), body: "hello", origin: true},
		{wait: 10, method: "HEAD", resp: pairs("Cache-Control", "max-age=3600", "X-B", "2"), origin: true,
			want: pairs("X-A", "1", "X-B", "2", "Content-Length", "5")},
		{wait: 10, want: pairs("X-B", "2", "Cache-Control", "max-age=3600"), wantBody: "hello"}}},
	{"RFC 9111 §4.3.5", "a HEAD 200 with another ETag makes the stored response stale", []step{
		{resp: pairs("Cache-Control", "max-age=1", "ETag", etagA), origin: true},
		{wait: 10, method: "HEAD", resp: pairs("Cache-Control", "max-age=3600", "ETag", `"b"`), origin: true, want: pairs("ETag", `"b"`)},
		{resp: pairs("Cache-Control", "max-age=3600", "ETag", `"b"`), origin: true}}},
}

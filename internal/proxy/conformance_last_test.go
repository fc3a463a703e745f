package proxy

import "testing"

// lastCases are the last requirements of the public cache-tests suite
// that pail did not meet (issue 20), and the bad input around them.
// TestConformance runs them with conformanceCases.
var lastCases = []conformanceCase{
	// RFC 9112 §6.3 item 4: a transfer coding other than chunked last
	// makes the body end at the close.
	{"RFC 9112 §6.3", "an unknown transfer coding is read to the close and stored", []step{
		{te: "x-unknown", resp: fresh, body: "hello", origin: true, wantBody: "hello", lacks: []string{"Transfer-Encoding"}},
		{wantBody: "hello"}}},
	{"RFC 9112 §6.3", "codings ending in chunked after an unknown one are refused", []step{
		{te: "x-unknown, chunked", resp: fresh, body: "hello", origin: true, code: 502}}},

	// RFC 9111 §3.3: a 206 is stored and ranges inside it are served.
	{"RFC 9111 §3.3", "a stored 206 answers a smaller range", []step{
		{req: pairs("Range", "bytes=-5"), status: 206, resp: cat(fresh, pairs("Content-Range", "bytes 5-9/10")), body: "56789",
			origin: true, code: 206, sent: pairs("Range", "bytes=-5"), want: pairs("Cache-Status", "stored")},
		{req: pairs("Range", "bytes=6-8"), code: 206, want: pairs("Content-Range", "bytes 6-8/10"), wantBody: "678"},
		{req: pairs("Range", "bytes=-1"), code: 206, want: pairs("Content-Range", "bytes 9-9/10"), wantBody: "9"},
		{req: pairs("Range", "bytes=7-"), code: 206, want: pairs("Content-Range", "bytes 7-9/10"), wantBody: "789"},
		{req: pairs("Range", "bytes=5-5,8-9"), code: 206, want: pairs("Content-Type", "multipart/byteranges")}}},
	{"RFC 9111 §3.3", "a 206 whose body is not its Content-Range is not stored", []step{
		{req: pairs("Range", "bytes=0-4"), status: 206, resp: cat(fresh, pairs("Content-Range", "bytes 0-4/10")), body: "012",
			origin: true, code: 206},
		{req: pairs("Range", "bytes=0-1"), status: 206, resp: cat(fresh, pairs("Content-Range", "bytes 0-1/10")), body: "01",
			origin: true, code: 206}}},

	// RFC 9111 §3.4: completing a stored part, combined only with the same
	// strong validator.
	{"RFC 9111 §3.4", "a stored 206 is completed with a Range request and combined", []step{
		{req: pairs("Range", "bytes=0-4"), status: 206, resp: cat(fresh, pairs("ETag", etagA, "Content-Range", "bytes 0-4/10")), body: "01234",
			origin: true, code: 206},
		{ranged: true, resp: cat(fresh, pairs("ETag", etagA)), body: "0123456789", origin: true,
			sent: pairs("Range", "bytes=5-9", "If-Range", etagA), want: pairs("Cache-Status", "fwd=partial"), wantBody: "0123456789"},
		{wantBody: "0123456789", want: pairs("Content-Length", "10")}}},
	{"RFC 9111 §3.4", "a range past a stored part completes it and is served from the whole", []step{
		{req: pairs("Range", "bytes=5-9"), status: 206, resp: cat(fresh, pairs("Last-Modified", "@-3600", "Content-Range", "bytes 5-9/10")), body: "56789",
			origin: true, code: 206},
		{req: pairs("Range", "bytes=3-7"), ranged: true, resp: cat(fresh, pairs("Last-Modified", "@-3600")), body: "0123456789", origin: true,
			sent: pairs("Range", "bytes=0-4"), code: 206, want: pairs("Content-Range", "bytes 3-7/10"), wantBody: "34567"},
		{wantBody: "0123456789"}}},
	{"RFC 9111 §3.4", "a changed representation is served whole (the origin honours If-Range)", []step{
		{req: pairs("Range", "bytes=0-4"), status: 206, resp: cat(fresh, pairs("ETag", etagA, "Content-Range", "bytes 0-4/10")), body: "01234",
			origin: true, code: 206},
		{ranged: true, resp: cat(fresh, pairs("ETag", `"b"`)), body: "ABCDEFGHIJ", origin: true, wantBody: "ABCDEFGHIJ"},
		{wantBody: "ABCDEFGHIJ"}}},
	{"RFC 9111 §3.4", "parts whose validators differ are not combined (the origin ignores If-Range)", []step{
		{req: pairs("Range", "bytes=0-4"), status: 206, resp: cat(fresh, pairs("ETag", etagA, "Content-Range", "bytes 0-4/10")), body: "01234",
			origin: true, code: 206},
		{ranged: true, ignoreIfRange: true, resp: cat(fresh, pairs("ETag", `"b"`)), body: "ABCDEFGHIJ", origin: true,
			notSent: []string{"Range"}, wantBody: "ABCDEFGHIJ"},
		{req: pairs("Range", "bytes=0-4"), code: 206, wantBody: "ABCDE"}}},
	{"RFC 9111 §3.4", "a part with a weak validator is not completed", []step{
		{req: pairs("Range", "bytes=0-4"), status: 206, resp: cat(fresh, pairs("ETag", `W/"a"`, "Content-Range", "bytes 0-4/10")), body: "01234",
			origin: true, code: 206},
		{ranged: true, resp: cat(fresh, pairs("ETag", `W/"a"`)), body: "0123456789", origin: true,
			notSent: []string{"Range"}, wantBody: "0123456789"}}},

	// RFC 9110 §14.2: Range sets a server may ignore; pail serves whole.
	{"RFC 9110 §14.2", "overlapping ranges get the whole response", []step{
		{resp: fresh, body: "0123456789", origin: true},
		{req: pairs("Range", "bytes=0-5,3-8"), wantBody: "0123456789"},
		{req: pairs("Range", "bytes=0-1,1-2"), wantBody: "0123456789"}}},
	{"RFC 9110 §14.2", "many ranges out of order get the whole response", []step{
		{resp: fresh, body: "0123456789", origin: true},
		{req: pairs("Range", "bytes=9-9,5-5,1-1"), wantBody: "0123456789"},
		{req: pairs("Range", "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,0-0,1-1,2-2,3-3,4-4,5-5,6-6"), wantBody: "0123456789"}}},
	{"RFC 9110 §14.2", "overlapping ranges inside a stored part get the whole response", []step{
		{req: pairs("Range", "bytes=0-4"), status: 206, resp: cat(fresh, pairs("ETag", etagA, "Content-Range", "bytes 0-4/10")), body: "01234",
			origin: true, code: 206},
		{req: pairs("Range", "bytes=0-2,1-3"), ranged: true, resp: cat(fresh, pairs("ETag", etagA)), body: "0123456789", origin: true,
			wantBody: "0123456789"}}},

	// RFC 9111 §4.1: normalised selecting fields.
	{"RFC 9111 §4.1", "Accept-Language matches regardless of order, case and whitespace", []step{
		{req: pairs("Accept-Language", "en, de"), resp: cat(fresh, pairs("Vary", "Accept-Language")), origin: true},
		{req: pairs("Accept-Language", "de, en")},
		{req: pairs("Accept-Language", "eN,De")},
		{req: pairs("Accept-Language", " en ,   de")},
		{req: pairs("Accept-Language", "de;q=1.0, en;Q=1")},
		{req: pairs("Accept-Language", "en, de;q=0.5"), origin: true}}},
	{"RFC 9111 §4.1", "Accept-Language quality values are compared by value", []step{
		{req: pairs("Accept-Language", "fr;q=0.50, en"), resp: cat(fresh, pairs("Vary", "Accept-Language")), origin: true},
		{req: pairs("Accept-Language", "EN,fr;q=0.5")},
		{req: pairs("Accept-Language", "en, fr;q=0.6"), origin: true}}},
	{"RFC 9111 §4.1", "Accept-Encoding matches regardless of order and case", []step{
		{req: pairs("Accept-Encoding", "gzip, deflate, br"), resp: cat(fresh, pairs("Vary", "Accept-Encoding")), origin: true},
		{req: pairs("Accept-Encoding", "br,GZIP, deflate")},
		{req: pairs("Accept-Encoding", "br"), origin: true}}},

	// RFC 9111 §4.3.2: without Last-Modified, If-Modified-Since is
	// compared with Date.
	{"RFC 9111 §4.3.2", "If-Modified-Since is compared with Date when there is no Last-Modified", []step{
		{resp: fresh, origin: true},
		{wait: 10, req: pairs("If-Modified-Since", "@-5"), code: 304},
		{req: pairs("If-Modified-Since", "@-20"), wantBody: "body"}}},

	// RFC 9110 §9.3.3, RFC 9111 §4.4: a POST response for its own URI.
	{"RFC 9111 §4.4", "a POST response with Content-Location of its target is stored for GET", []step{
		{resp: fresh, body: "old", origin: true},
		{method: "POST", resp: cat(fresh, pairs("Content-Location", "/r")), body: "new", origin: true, wantBody: "new"},
		{wantBody: "new"}}},
	{"RFC 9111 §4.4", "a POST response with another Content-Location is not stored for the target", []step{
		{method: "POST", resp: cat(fresh, pairs("Content-Location", "/other")), body: "new", origin: true},
		{origin: true}}},
	{"RFC 9110 §9.3.3", "a POST response without explicit freshness is not stored", []step{
		{method: "POST", resp: pairs("Content-Location", "/r", "Last-Modified", "@-100000"), body: "new", origin: true},
		{origin: true}}},
}

// TestUnknownCodingNotRepeated checks that only a safe request is asked
// again when the origin's transfer coding needs pail's own reader (RFC
// 9110 §9.2.2): a GET reaches the origin twice, a POST once, answered 502.
func TestUnknownCodingNotRepeated(t *testing.T) {
	p := newTestProxy(t)
	p.origin.script(0, fresh, "hello")
	p.origin.mode(false, false, "x-unknown")
	if resp, body := p.do(t, "GET", "/g", nil); resp.StatusCode != 200 || body != "hello" || p.origin.count() != 2 {
		t.Errorf("GET: %d %q after %d origin requests, want 200 \"hello\" after 2", resp.StatusCode, body, p.origin.count())
	}
	before := p.origin.count()
	if resp, _ := p.do(t, "POST", "/p", nil); resp.StatusCode != 502 || p.origin.count() != before+1 {
		t.Errorf("POST: %d after %d origin requests, want 502 after 1", resp.StatusCode, p.origin.count()-before)
	}
}

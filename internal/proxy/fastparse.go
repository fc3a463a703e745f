package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
)

// The fast path's request parser. It accepts a strict subset of HTTP/1.x
// (RFC 9112): only heads that net/http would parse into exactly the same
// method, target, Host and header fields, and only for requests whose
// answer may be a plain cache hit. Everything else is "not simple" and
// goes to net/http untouched, so the parser may be as narrow as it likes
// but never more liberal than net/http (FuzzFastParse checks this).

// connMode is what a request's Connection field asks for.
type connMode uint8

const (
	connDefault   connMode = iota // no Connection field
	connClose                     // "Connection: close"
	connKeepAlive                 // "Connection: keep-alive"
)

// fastRequest is a parsed request head that may be a plain hit.
type fastRequest struct {
	head   bool // HEAD, else GET
	http10 bool // HTTP/1.0, else HTTP/1.1
	conn   connMode
	// abs is true for an absolute-form target (RFC 9112 §3.2.2); then
	// authority is its host[:port].
	abs       bool
	authority string
	path      string // the path, starting with "/" (or empty when abs)
	rawQuery  string
	host      string // the Host field
	// via is true when the head has a Via field, which answerFast checks
	// for a loop (loop.go).
	via bool
	// header holds the fields as net/http's Request.Header would: all
	// but Host.
	header http.Header
}

// closeAfter reports whether the connection closes after the answer, as
// net/http decides for a response with a Content-Length: HTTP/1.1 unless
// "close", HTTP/1.0 only with "keep-alive" (RFC 9112 §9.3).
func (r *fastRequest) closeAfter() bool {
	if r.http10 {
		return r.conn != connKeepAlive
	}
	return r.conn == connClose
}

// notSimple lists request fields that make a request more than a plain
// hit: a body, a Range or precondition (RFC 9110 §13, §14), cache
// directives (RFC 9111 §5.2.1, §5.4), credentials (RFC 9111 §3.5),
// protocol changes (RFC 9110 §7.8, §10.1.1), trailers.
var notSimple = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Trailer": true,
	"Range": true, "If-Range": true, "If-Match": true, "If-None-Match": true,
	"If-Modified-Since": true, "If-Unmodified-Since": true,
	"Cache-Control": true, "Pragma": true,
	"Authorization": true, "Proxy-Authorization": true,
	"Upgrade": true, "Expect": true, "Http2-Settings": true,
}

// parseFastRequest parses head, a complete request head ending in
// "\r\n\r\n", into r, reusing r.header and vals (a scratch slice for
// field values). ok is false when the request is not simple.
func parseFastRequest(head string, r *fastRequest, vals []string) (ok bool) {
	clear(r.header)
	hdr := r.header
	line, rest, _ := strings.Cut(head, "\r\n")
	if !parseRequestLine(line, r) {
		return false
	}
	r.conn = connDefault
	r.host = ""
	r.via = false
	hosts, conns := 0, 0
	for {
		line, rest, _ = strings.Cut(rest, "\r\n")
		if line == "" {
			break
		}
		key, value, ok := fieldLine(line)
		switch {
		case !ok:
			return false
		case key == "Host":
			hosts++
			if hosts > 1 {
				return false
			}
			r.host = value
			continue // net/http moves Host out of the header map
		case key == "Connection":
			conns++
			if conns > 1 {
				return false
			}
			r.conn, _ = connField(value)
		case key == "Via":
			r.via = true
		}
		if len(vals) == cap(vals) {
			return false // more fields than the scratch holds
		}
		if prev, dup := hdr[key]; dup {
			hdr[key] = append(prev, value) // copies: prev is clipped
			continue
		}
		vals = append(vals, value)
		hdr[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	// RFC 9112 §3.2: HTTP/1.1 requires Host; net/http answers 400 without
	// it, and route answers 400 to an HTTP/1.0 request without one.
	return hosts == 1
}

// fieldLine parses one field line (without its CRLF) as the fast path
// accepts it: a token, a colon, a plain value (RFC 9110 §5.1, §5.5), and
// not a field that makes the request more than a plain hit. A Host must
// be a plain authority and a Connection "close" or "keep-alive". key is
// the canonical name, as net/http's Request.Header has it.
func fieldLine(line string) (key, value string, ok bool) {
	name, value, found := strings.Cut(line, ":")
	if !found || !isToken(name) {
		return "", "", false // includes obs-fold: a line starting with SP or HTAB
	}
	value = strings.Trim(value, " \t")
	if !plainValue(value) {
		return "", "", false
	}
	key = textproto.CanonicalMIMEHeaderKey(name)
	switch {
	case notSimple[key]:
		return "", "", false
	case key == "Host":
		ok = plainAuthority(value)
	case key == "Connection":
		_, ok = connField(value)
	default:
		ok = true
	}
	return key, value, ok
}

// connField reads a Connection field value the fast path understands.
func connField(v string) (connMode, bool) {
	switch {
	case strings.EqualFold(v, "close"):
		return connClose, true
	case strings.EqualFold(v, "keep-alive"):
		return connKeepAlive, true
	}
	return connDefault, false
}

// parseRequestLine parses "GET /path?q HTTP/1.1" (RFC 9112 §3).
func parseRequestLine(line string, r *fastRequest) bool {
	switch {
	case strings.HasPrefix(line, "GET "):
		r.head, line = false, line[len("GET "):]
	case strings.HasPrefix(line, "HEAD "):
		r.head, line = true, line[len("HEAD "):]
	default:
		return false
	}
	target, proto, found := strings.Cut(line, " ")
	if !found {
		return false
	}
	switch proto {
	case "HTTP/1.1":
		r.http10 = false
	case "HTTP/1.0":
		r.http10 = true
	default:
		return false
	}
	r.abs, r.authority = false, ""
	if after, isAbs := strings.CutPrefix(target, "http://"); isAbs {
		i := strings.IndexAny(after, "/?")
		if i < 0 {
			i = len(after)
		}
		r.abs, r.authority, target = true, after[:i], after[i:]
		if !plainAuthority(r.authority) {
			return false
		}
	} else if !strings.HasPrefix(target, "/") {
		return false // asterisk-form, authority-form, anything odd
	}
	r.path, r.rawQuery, _ = strings.Cut(target, "?")
	return plainChars(r.path, pathChars) && plainChars(r.rawQuery, queryChars)
}

// Byte classes of the parser: each a 128-bit set.
type byteSet [2]uint64

func newByteSet(chars string) byteSet {
	var s byteSet
	for i := range len(chars) {
		c := chars[i]
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

func (s *byteSet) has(c byte) bool { return c < 128 && s[c>>6]&(1<<(c&63)) != 0 }

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

var (
	// pathChars are those url.URL.EscapedPath keeps as they are, so that
	// the cache key is the target's own bytes; no "%": escapes go to
	// net/http.
	pathChars = newByteSet(alnum + "-._~/$&+,:;=@")
	// queryChars may appear in a query, which is kept raw.
	queryChars = newByteSet(alnum + "-._~!$&'()*+,;=:@/?%")
	// hostChars make a reg-name or IPv4 address (RFC 3986 §3.2.2); IPv6
	// literals, user info and escapes go to net/http.
	hostChars = newByteSet(alnum + "-.")
	digits    = newByteSet("0123456789")
	// tokenChars are RFC 9110 §5.6.2's tchar.
	tokenChars = newByteSet(alnum + "!#$%&'*+-.^_`|~")
)

func plainChars(s string, set byteSet) bool {
	for i := range len(s) {
		if !set.has(s[i]) {
			return false
		}
	}
	return true
}

// plainAuthority accepts host or host:port with a non-empty decimal port.
func plainAuthority(s string) bool {
	host, port, hasPort := strings.Cut(s, ":")
	return host != "" && plainChars(host, hostChars) && (!hasPort || port != "" && plainChars(port, digits))
}

func isToken(s string) bool { return s != "" && plainChars(s, tokenChars) }

// plainValue accepts visible ASCII, spaces and tabs: no control bytes
// and no obs-text (RFC 9110 §5.5).
func plainValue(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

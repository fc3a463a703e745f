package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// An origin response whose Transfer-Encoding does not end in chunked is
// delimited by the closing of the connection (RFC 9112 §6.3 item 4).
// net/http's client refuses any transfer coding but chunked, so such a
// response reaches us as an error; roundTrip then asks again on a new
// connection of its own and reads the response itself (readToClose). Only
// safe requests without a body are asked again (the origin has already
// acted on the first; a body has been sent and is gone). The retry costs nothing on any other path: it starts from
// net/http's error.

// roundTrip sends out to t's origin.
func (s *Server) roundTrip(t *target, out *http.Request) (*http.Response, error) {
	resp, err := s.transportFor(t).RoundTrip(out)
	// RFC 9110 §9.2.2: only a request that may be repeated is asked again.
	if err != nil && unsupportedTransferCoding(err) && safeMethod(out.Method) && (out.Body == nil || out.Body == http.NoBody) {
		return s.readToClose(out, t)
	}
	return resp, err
}

// unsupportedTransferCoding reports net/http's refusal of a response's
// Transfer-Encoding. Its error type is not exported; the text is what
// net/http/transfer.go writes.
func unsupportedTransferCoding(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "unsupported transfer encoding") || strings.Contains(msg, "too many transfer encodings")
}

// errChunkedTransfer means a response's codings end in chunked after
// others that pail cannot undo: it is answered 502.
var errChunkedTransfer = errors.New("proxy: transfer codings before chunked are not supported")

// readToClose sends out on a new connection to its origin and reads the
// response with a minimal HTTP/1.1 reader: a status line and fields
// (bounded like net/http's, within originHeaderTimeout), then the body up
// to the close, with Transfer-Encoding and Content-Length dropped (RFC
// 9112 §6.3 items 3-4: the coding makes the length the connection's). The
// body is relayed as received.
func (s *Server) readToClose(out *http.Request, t *target) (*http.Response, error) {
	ctx := out.Context()
	addr := out.URL.Host
	if out.URL.Port() == "" {
		port := "80"
		if out.URL.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(out.URL.Hostname(), port)
	}
	var conn net.Conn
	var err error
	if t.origin == nil {
		conn, err = s.dialDestination(ctx, addr) // the forward proxy's rules
	} else {
		conn, err = (&net.Dialer{Timeout: dialTimeout}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("proxy: connect %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(originHeaderTimeout))
	if out.URL.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: out.URL.Hostname()})
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("proxy: TLS with %s: %w", addr, err))
		}
		conn = tc
	}
	req := out.Clone(ctx)
	req.Close = true // RFC 9112 §9.6: this connection ends with the response
	if err := req.Write(conn); err != nil {
		return fail(fmt.Errorf("proxy: write request to %s: %w", addr, err))
	}
	// The head is read through a limit (net/http's client allows 1 MB of
	// fields; pail's server side allows maxHeaderBytes), lifted for the body.
	lr := &io.LimitedReader{R: conn, N: maxHeadRead}
	br := bufio.NewReaderSize(lr, originReadBufferSize)
	tp := textproto.NewReader(br)
	var resp *http.Response
	for {
		resp, err = readResponseHead(tp)
		if err != nil {
			return fail(fmt.Errorf("proxy: response from %s: %w", addr, err))
		}
		// RFC 9110 §15.2: interim responses are skipped (101 is never
		// asked for).
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	resp.Request = out
	resp.Close = true
	resp.ContentLength = -1
	codings := resp.Header.Values("Transfer-Encoding")
	if len(codings) > 0 {
		all := strings.Split(strings.Join(codings, ","), ",")
		if strings.EqualFold(strings.TrimSpace(all[len(all)-1]), "chunked") {
			return fail(errChunkedTransfer)
		}
	}
	resp.Header.Del("Transfer-Encoding")
	resp.Header.Del("Content-Length")
	if out.Method == http.MethodHead || bodyless(resp.StatusCode) || resp.StatusCode < 200 {
		stop()
		conn.Close()
		resp.Body = http.NoBody
		resp.ContentLength = 0
		return resp, nil
	}
	lr.N = 1<<63 - 1
	conn.SetDeadline(time.Time{})
	resp.Body = &closeDelimited{r: br, conn: conn, stop: stop}
	return resp, nil
}

// readResponseHead reads a status line and its fields (RFC 9112 §4, §5).
func readResponseHead(tp *textproto.Reader) (*http.Response, error) {
	line, err := tp.ReadLine()
	if err != nil {
		return nil, err
	}
	proto, rest, ok := strings.Cut(line, " ")
	major, minor, okProto := http.ParseHTTPVersion(proto)
	if !ok || !okProto || major != 1 {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	code, reason, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || status < 100 {
		return nil, fmt.Errorf("malformed status code %q", code)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("fields: %w", err)
	}
	return &http.Response{
		Status: code + " " + reason, StatusCode: status,
		Proto: proto, ProtoMajor: major, ProtoMinor: minor, Header: http.Header(hdr),
	}, nil
}

// closeDelimited is a body that ends when the origin closes the
// connection. Each read has originIdleTimeout (the callers' idle timers
// bound a stall too; this one also holds where there is none).
type closeDelimited struct {
	r    *bufio.Reader
	conn net.Conn
	stop func() bool
}

func (b *closeDelimited) Read(p []byte) (int, error) {
	b.conn.SetReadDeadline(time.Now().Add(originIdleTimeout))
	return b.r.Read(p)
}

func (b *closeDelimited) Close() error {
	b.stop()
	return b.conn.Close()
}

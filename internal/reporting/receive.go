package reporting

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"time"
)

// Bounds on reading a received message.
const (
	// maxParts bounds the MIME parts looked at in one message.
	maxParts = 50
	// maxDepth bounds multipart nesting.
	maxDepth = 3
	// maxHeaderBytes bounds one header section.
	maxHeaderBytes = 64 << 10
)

// WantsLocalPart reports whether rcpt (an address as given in RCPT TO)
// has one of the local parts, case-insensitively. A delivery tap calls it
// for every local delivery, so it only looks at the string.
func WantsLocalPart(rcpt string, localParts ...string) bool {
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 {
		return false
	}
	for _, lp := range localParts {
		if strings.EqualFold(rcpt[:at], lp) {
			return true
		}
	}
	return false
}

// Part is a leaf MIME part offered to Attachments' callback.
type Part struct {
	// MediaType is the part's media type, lower case; Params its
	// parameters.
	MediaType string
	Params    map[string]string
	// Filename is the Content-Disposition filename, or the Content-Type
	// name; "" when neither is given.
	Filename string
}

// Attachments walks msg (a whole message, header first) and calls fn for
// every leaf part that want accepts, at the top or inside multiparts, with
// the part's body, Content-Transfer-Encoding undone. It looks at
// maxParts parts at most, maxDepth levels deep. The error joins those fn
// returned and that of a header that does not parse.
func Attachments(msg io.Reader, want func(Part) bool, fn func(Part, io.Reader) error) error {
	br := bufio.NewReader(msg)
	hdr, err := readHeader(br)
	if err != nil {
		return err
	}
	var errs []error
	parts := 0
	walk(hdr, br, 0, &parts, want, fn, &errs)
	return errors.Join(errs...)
}

// readHeader reads one header section of at most maxHeaderBytes.
func readHeader(r *bufio.Reader) (textproto.MIMEHeader, error) {
	var buf bytes.Buffer
	for {
		line, err := r.ReadSlice('\n')
		buf.Write(line)
		if buf.Len() > maxHeaderBytes {
			return nil, fmt.Errorf("reporting: header over %d bytes", maxHeaderBytes)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) || err == nil && len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reporting: header: %w", err)
		}
	}
	h, err := textproto.NewReader(bufio.NewReader(&buf)).ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reporting: header: %w", err)
	}
	return h, nil
}

func walk(h textproto.MIMEHeader, body io.Reader, depth int, parts *int, want func(Part) bool, fn func(Part, io.Reader) error, errs *[]error) {
	*parts++
	if *parts > maxParts {
		return
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= maxDepth || params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for *parts <= maxParts {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walk(p.Header, p, depth+1, parts, want, fn, errs)
		}
		return
	}
	p := Part{MediaType: mt, Params: params, Filename: params["name"]}
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
		p.Filename = dp["filename"]
	}
	if !want(p) {
		return
	}
	if err := fn(p, decode(h, body)); err != nil {
		*errs = append(*errs, err)
	}
}

// decode undoes a part's Content-Transfer-Encoding.
func decode(h textproto.MIMEHeader, body io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	}
	return body
}

// newlineStripper drops CR, LF and blanks, which base64.NewDecoder does
// not skip on its own for CR LF split across reads.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		c, err := n.r.Read(p)
		j := 0
		for _, b := range p[:c] {
			if b != '\r' && b != '\n' && b != ' ' && b != '\t' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// ErrTooLarge means a report is over the bound it is read with.
var ErrTooLarge = errors.New("reporting: report too large")

// ReadLimited returns what r holds, gunzipped when gz, reading at most
// limit compressed bytes and returning at most limit bytes: a gzip bomb
// stops there with ErrTooLarge.
func ReadLimited(r io.Reader, gz bool, limit int64) ([]byte, error) {
	r = io.LimitReader(r, limit+1)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("reporting: gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reporting: read: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}

// Tap takes reports of kind R out of mail that arrives for a local
// domain and stores them; it implements delivery's report tap. Extract
// finds the reports in a message, Store keeps one, Describe gives the log
// attributes that name one.
type Tap[R any] struct {
	Name string // prefixes log lines
	// LocalParts are those whose mail at a local domain is looked at.
	LocalParts []string
	Log        *slog.Logger
	Now        func() time.Time // nil: time.Now
	Extract    func(io.Reader) ([]R, error)
	Store      func(ctx context.Context, r R, at time.Time) error
	Describe   func(R) []any
}

// Wants reports whether mail for rcpt (a local recipient as given in
// RCPT TO) may carry a report: its local part is one of LocalParts. It is
// called for every local delivery, so it only looks at the string.
func (t *Tap[R]) Wants(rcpt string) bool { return WantsLocalPart(rcpt, t.LocalParts...) }

// Take reads a message and stores every report in it; a message without
// one, or with one that does not parse, is logged and otherwise left
// alone (it is delivered to the mailbox all the same). It returns the
// number of reports stored.
func (t *Tap[R]) Take(ctx context.Context, msg io.Reader) int {
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := t.Now
	if now == nil {
		now = time.Now
	}
	reps, err := t.Extract(msg)
	if err != nil {
		log.Info(t.Name+": a report in received mail does not parse; delivered as it is", "err", err)
	}
	n := 0
	for _, r := range reps {
		if err := t.Store(ctx, r, now()); err != nil {
			log.Warn(t.Name+": storing a received report", "err", err)
			continue
		}
		log.Info(t.Name+": report received", t.Describe(r)...)
		n++
	}
	return n
}

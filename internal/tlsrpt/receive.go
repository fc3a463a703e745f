package tlsrpt

import (
	"bufio"
	"bytes"
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

// ReportLocalParts are the local parts whose mail at a local domain is
// looked at for reports: postmaster (where `pail dns-records` points
// reports, and where most senders send them) and tlsrpt.
var reportLocalParts = []string{"postmaster", "tlsrpt"}

// Receiver takes reports out of mail that arrives for a local domain and
// stores them. It implements delivery's report tap.
type Receiver struct {
	DB  *DB
	Log *slog.Logger
	Now func() time.Time
}

// Wants reports whether mail for rcpt (a local recipient as given in
// RCPT TO) may carry a report: its local part is postmaster or tlsrpt.
// It is called for every local delivery, so it only looks at the string.
func (rc *Receiver) Wants(rcpt string) bool {
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 {
		return false
	}
	for _, lp := range reportLocalParts {
		if strings.EqualFold(rcpt[:at], lp) {
			return true
		}
	}
	return false
}

// Take reads a message and stores every report in it; a message without
// one, or with one that does not parse, is logged and otherwise left
// alone (it is delivered to the mailbox all the same). It returns the
// number of reports stored.
func (rc *Receiver) Take(ctx context.Context, msg io.Reader) int {
	reps, err := ExtractReports(msg)
	log := rc.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err != nil {
		log.Info("tlsrpt: a report in received mail does not parse; delivered as it is", "err", err)
	}
	now := time.Now
	if rc.Now != nil {
		now = rc.Now
	}
	n := 0
	for _, r := range reps {
		if err := rc.DB.AddReceived(ctx, r.Report, r.JSON, now()); err != nil {
			log.Warn("tlsrpt: storing a received report", "err", err)
			continue
		}
		log.Info("tlsrpt: report received", "organization", r.Report.OrganizationName, "report_id", r.Report.ReportID)
		n++
	}
	return n
}

// Extracted is one report found in a message.
type Extracted struct {
	Report *Report
	JSON   []byte // the report's JSON as sent
}

// ExtractReports finds the reports in a message (RFC 8460 §5.3): parts of
// type application/tlsrpt+gzip or application/tlsrpt+json, at the top or
// in a multipart (multipart/report; report-type="tlsrpt" as the RFC
// sends them). The error tells of a report part that did not parse.
func ExtractReports(msg io.Reader) ([]Extracted, error) {
	br := bufio.NewReader(msg)
	hdr, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	var out []Extracted
	var errs []error
	parts := 0
	walk(hdr, br, 0, &parts, &out, &errs)
	return out, errors.Join(errs...)
}

// readHeader reads one header section of at most maxHeaderBytes.
func readHeader(r *bufio.Reader) (textproto.MIMEHeader, error) {
	var buf bytes.Buffer
	for {
		line, err := r.ReadSlice('\n')
		buf.Write(line)
		if buf.Len() > maxHeaderBytes {
			return nil, fmt.Errorf("tlsrpt: header over %d bytes", maxHeaderBytes)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) || err == nil && len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tlsrpt: header: %w", err)
		}
	}
	h, err := textproto.NewReader(bufio.NewReader(&buf)).ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("tlsrpt: header: %w", err)
	}
	return h, nil
}

func walk(h textproto.MIMEHeader, body io.Reader, depth int, parts *int, out *[]Extracted, errs *[]error) {
	*parts++
	if *parts > maxParts {
		return
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if depth >= maxDepth || params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for *parts <= maxParts {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walk(p.Header, p, depth+1, parts, out, errs)
		}
	case mt == MediaTypeGzip || mt == MediaTypeJSON:
		raw, err := readReport(decode(h, body), mt == MediaTypeGzip)
		if err != nil {
			*errs = append(*errs, err)
			return
		}
		rep, err := parseJSON(raw)
		if err != nil {
			*errs = append(*errs, err)
			return
		}
		*out = append(*out, Extracted{Report: rep, JSON: raw})
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

// newlineStripper drops CR and LF, which base64.NewDecoder does not skip
// on its own for CR LF split across reads.
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

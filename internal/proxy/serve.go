package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"time"

	"pail/internal/httpcache"
)

// serveStored answers from a stored entry (RFC 9111 §4): Age set from the
// age calculation (§5.1), the client's preconditions evaluated (RFC 9110
// §13.2), and a Range served from a stored 200 (§14.2). It returns false,
// having written nothing, when the entry's body is gone.
func (s *Server) serveStored(w http.ResponseWriter, r *http.Request, e *httpcache.Entry, status string) bool {
	body, err := s.store.Open(e)
	if err != nil {
		return false
	}
	defer body.Close()
	// It may follow a revalidation or a failed fetch: renew the deadline.
	setWriteDeadline(w, time.Now().Add(writeIdleTimeout))
	h := w.Header()
	clear(h)
	for k, vs := range e.Header {
		h[k] = append([]string(nil), vs...)
	}
	h.Set("Age", httpcache.FormatAge(httpcache.CurrentAge(e, s.now())))
	h.Add("Via", viaEntry(1, 1, s.cfg.Name))
	h.Add("Cache-Status", s.cfg.Name+"; "+status)

	if e.Status == http.StatusOK || e.Status == http.StatusNoContent {
		switch httpcache.Evaluate(r.Header, e.Header) {
		case httpcache.NotModified:
			// RFC 9110 §15.4.5: no content, and no Content-Length of it.
			h.Del("Content-Length")
			w.WriteHeader(http.StatusNotModified)
			return true
		case httpcache.Failed:
			h.Del("Content-Length")
			w.WriteHeader(http.StatusPreconditionFailed)
			return true
		}
	}
	size := e.Size
	if rng := r.Header.Get("Range"); rng != "" && e.Status == http.StatusOK && httpcache.RangeAllowed(r.Header, e.Header) {
		ranges, err := httpcache.ParseRange(rng, size)
		switch {
		case errors.Is(err, httpcache.ErrUnsatisfiable):
			// RFC 9110 §15.5.17.
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			h.Del("Content-Length")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return true
		case len(ranges) == 1:
			h.Set("Content-Range", ranges[0].ContentRange(size))
			h.Set("Content-Length", strconv.FormatInt(ranges[0].Length, 10))
			w.WriteHeader(http.StatusPartialContent)
			if r.Method != http.MethodHead {
				s.copyStored(w, io.NewSectionReader(body, ranges[0].Start, ranges[0].Length))
			}
			return true
		case len(ranges) > 1:
			s.serveMultipart(w, r, body, ranges, size, e.Header.Get("Content-Type"))
			return true
		}
	}
	if h.Get("Accept-Ranges") == "" && e.Status == http.StatusOK {
		h.Set("Accept-Ranges", "bytes")
	}
	if !bodyless(e.Status) {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead && !bodyless(e.Status) {
		s.writeBody(w, body, size)
	}
	return true
}

func (s *Server) copyStored(w http.ResponseWriter, src io.Reader) {
	cw := newClientWriter(w)
	buf := s.getBuffer()
	io.CopyBuffer(cw, src, *buf)
	s.bufs.Put(buf)
	s.metrics.BytesFromCache.Add(cw.n)
}

// serveMultipart sends several ranges as multipart/byteranges (RFC 9110
// §14.6).
func (s *Server) serveMultipart(w http.ResponseWriter, r *http.Request, body io.ReaderAt, ranges []httpcache.ByteRange, size int64, ctype string) {
	var b [12]byte
	rand.Read(b[:])
	boundary := hex.EncodeToString(b[:])
	h := w.Header()
	h.Set("Content-Type", "multipart/byteranges; boundary="+boundary)
	h.Del("Content-Length")
	w.WriteHeader(http.StatusPartialContent)
	if r.Method == http.MethodHead {
		return
	}
	cw := newClientWriter(w)
	mw := multipart.NewWriter(cw)
	mw.SetBoundary(boundary)
	for _, rg := range ranges {
		ph := textproto.MIMEHeader{"Content-Range": {rg.ContentRange(size)}}
		if ctype != "" {
			ph.Set("Content-Type", ctype)
		}
		part, err := mw.CreatePart(ph)
		if err != nil {
			return
		}
		if _, err := io.Copy(part, io.NewSectionReader(body, rg.Start, rg.Length)); err != nil {
			return
		}
	}
	mw.Close()
	s.metrics.BytesFromCache.Add(cw.n)
}

package proxy

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"pail/internal/httpcache"
)

// Stored partial content (RFC 9111 §3.3-3.4; httpcache/partial.go): a
// stored 206 answers the ranges inside it; a request for more completes
// it with a Range request for the rest, combined with it only when both
// parts share a strong validator. Whenever that cannot be done the whole
// representation is fetched and served: never a part of another version.

// servePartial answers a GET without preconditions from the stored 206 p,
// fresh at now, or completes p from the origin. It returns false, having
// written nothing, when p can be of no use (stale, or lacking a head and a
// tail, or without a strong validator): the request is then a miss.
func (s *Server) servePartial(w http.ResponseWriter, r *http.Request, t *target, p *httpcache.Entry, reqCC httpcache.Directives, now time.Time) bool {
	part, ok := httpcache.PartOf(p)
	if !ok || p.Size != part.Length {
		return false
	}
	use, f := httpcache.Decide(p, reqCC, now)
	if use != httpcache.UseFresh && use != httpcache.UseStale {
		return false
	}
	if rng := r.Header.Get("Range"); rng != "" && httpcache.RangeAllowed(r.Header, p.Header) {
		ranges, err := httpcache.ParseRange(rng, part.Total)
		if err == nil && part.Covers(ranges) {
			ttl := "; ttl=" + strconv.FormatInt(int64((f.Lifetime-f.Age).Seconds()), 10)
			if s.servePart(w, r, p, part, ranges, "hit"+ttl) {
				s.metrics.Hits.Add(1)
				return true
			}
			return false
		}
		if errors.Is(err, httpcache.ErrUnsatisfiable) {
			return false // the origin says 416, with its own fields
		}
	}
	if _, ok := part.Missing(); !ok || httpcache.StrongValidator(p.Header) == "" {
		return false
	}
	if reqCC.Has("only-if-cached") {
		return false // RFC 9111 §5.2.1.7: no origin request
	}
	s.fetch(w, r, t, nil, reqCC, nil, "fwd=partial", p)
	return true
}

// servePart sends ranges, all inside part, from the stored 206 p.
func (s *Server) servePart(w http.ResponseWriter, r *http.Request, p *httpcache.Entry, part httpcache.Part, ranges []httpcache.ByteRange, status string) bool {
	body, err := s.store.Open(p)
	if err != nil {
		return false
	}
	defer body.Close()
	h := w.Header()
	clear(h)
	for k, vs := range p.Header {
		h[k] = append([]string(nil), vs...)
	}
	h.Set("Age", httpcache.FormatAge(httpcache.CurrentAge(p, s.now())))
	h.Add("Via", viaEntry(1, 1, s.cfg.Name))
	h.Add("Cache-Status", s.cfg.Name+"; "+status)
	at := offsetReaderAt{r: body, off: part.Start}
	if len(ranges) > 1 {
		h.Del("Content-Range")
		s.serveMultipart(w, r, at, ranges, part.Total, p.Header.Get("Content-Type"))
		return true
	}
	rg := ranges[0]
	h.Set("Content-Range", rg.ContentRange(part.Total))
	h.Set("Content-Length", strconv.FormatInt(rg.Length, 10))
	w.WriteHeader(http.StatusPartialContent)
	if r.Method != http.MethodHead {
		s.copyStored(w, io.NewSectionReader(at, rg.Start, rg.Length))
	}
	return true
}

// offsetReaderAt reads a part's bytes by their offset in the whole
// representation.
type offsetReaderAt struct {
	r   io.ReaderAt
	off int64
}

func (o offsetReaderAt) ReadAt(p []byte, off int64) (int, error) {
	return o.r.ReadAt(p, off-o.off)
}

// combine handles the origin's 206 to the completion of the stored part
// (RFC 9111 §3.4): when it is exactly the missing range of the same
// representation and both carry the same strong validator, the two make a
// complete 200, stored with the new response's fields (but Content-Range),
// and the client is answered from it. Otherwise nothing is combined: the
// whole representation is fetched (without any Range) and served.
func (s *Server) combine(w http.ResponseWriter, r *http.Request, t *target, p *httpcache.Entry, part httpcache.Part, resp *http.Response, reqCC httpcache.Directives, reqTime, respTime time.Time, fwd string) {
	got, ok := httpcache.ParseContentRange(resp.Header.Get("Content-Range"))
	missing, _ := part.Missing()
	want, _ := httpcache.ParseRange(missing, part.Total)
	if !ok || len(resp.Header["Content-Range"]) != 1 || got.Total != part.Total || len(want) != 1 ||
		got.Start != want[0].Start || got.Length != want[0].Length || !httpcache.Combinable(p.Header, resp.Header) {
		s.log.Debug("proxy: parts not combined", "url", t.key, "stored", p.Header.Get("Content-Range"),
			"new", resp.Header.Get("Content-Range"))
		s.fetchWhole(w, r, t, reqCC, fwd)
		return
	}
	h := httpcache.StoredHeader(resp.Header)
	h.Del("Content-Range")
	h.Del("Content-Length")
	e := &httpcache.Entry{
		Key: t.key, Status: http.StatusOK, Header: h,
		VaryRequest: httpcache.VaryRequest(resp.Header, r.Header), RequestTime: reqTime, ResponseTime: respTime,
		Size: part.Total,
	}
	if !httpcache.Storable(http.MethodGet, reqCC, r.Header.Get("Authorization") != "", http.StatusOK, h) {
		s.fetchWhole(w, r, t, reqCC, fwd)
		return
	}
	stored, err := s.store.Open(p)
	if err != nil {
		s.fetchWhole(w, r, t, reqCC, fwd)
		return
	}
	defer stored.Close()
	sink, err := s.store.Create(e)
	if err != nil {
		s.fetchWhole(w, r, t, reqCC, fwd)
		return
	}
	// The parts in order: the stored one first when it is the head.
	old := io.NewSectionReader(stored, 0, part.Length)
	fresh := io.LimitReader(resp.Body, got.Length+1) // one more shows a long body
	srcs := []io.Reader{fresh, old}
	if part.Start == 0 {
		srcs = []io.Reader{old, fresh}
	}
	buf := s.getBuffer()
	n, err := io.CopyBuffer(sink, io.MultiReader(srcs...), *buf)
	s.bufs.Put(buf)
	if err != nil || n != part.Total {
		sink.Abort()
		s.fetchWhole(w, r, t, reqCC, fwd)
		return
	}
	ce, err := sink.Commit()
	if err != nil {
		s.fetchWhole(w, r, t, reqCC, fwd)
		return
	}
	s.metrics.Misses.Add(1)
	s.metrics.Stored.Add(1)
	s.metrics.BytesFromOrigin.Add(got.Length)
	httpcache.Supersede(s.store, ce, r.Header)
	if !s.serveStored(w, r, ce, fwd+"; fwd-status=206; stored") {
		s.fetchWhole(w, r, t, reqCC, fwd)
	}
}

// fetchWhole asks the origin for the whole representation r names and
// serves it, storing what may be stored: the safe answer when parts cannot
// be combined.
func (s *Server) fetchWhole(w http.ResponseWriter, r *http.Request, t *target, reqCC httpcache.Directives, fwd string) {
	whole := r.Clone(r.Context())
	whole.Header.Del("Range")
	whole.Header.Del("If-Range")
	s.fetch(w, whole, t, nil, reqCC, nil, fwd, nil)
}

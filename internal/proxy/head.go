package proxy

import (
	"net/http"
	"time"

	"pail/internal/httpcache"
)

// freshenFromHead applies a 200 response to a HEAD request to the stored
// GET response it checked (RFC 9111 §4.3.5). When validators and length
// agree, the stored header is updated from the HEAD response as a 304
// would update it (§3.2) and the updated response answers the client, so
// that stored fields the HEAD response left out are still sent (RFC 9110
// §9.3.2: the same fields as for GET). Otherwise the stored response no
// longer describes the resource: it is dropped, and false tells the
// caller to relay the origin's answer.
func (s *Server) freshenFromHead(w http.ResponseWriter, r *http.Request, stored *httpcache.Entry, resp *http.Response, reqTime, respTime time.Time, fwd string) bool {
	if !httpcache.HeadMatches(stored, resp.Header) {
		s.store.Delete(stored)
		return false
	}
	ne := stored.Clone()
	ne.Header = httpcache.Refresh(stored.Header, resp.Header)
	ne.RequestTime, ne.ResponseTime = reqTime, respTime
	updated, err := s.store.Update(stored, ne)
	if err != nil {
		return false
	}
	s.metrics.Revalidations.Add(1)
	return s.serveStored(w, r, updated, fwd+"; fwd-status=200; detail=head-update")
}

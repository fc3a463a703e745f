package proxy

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// admin serves the admin endpoints:
//
//	GET  /_pail/metrics                       counters and proxy_load as text
//	POST /_pail/purge?url=URL                 remove every variant of URL
//	POST /_pail/purge?url=PREFIX&prefix=1     remove every URL starting so
//
// Purge needs "Authorization: Bearer TOKEN" with the configured token; with
// no token configured purging is off. Metrics are public: they reveal
// counts, not content.
func (s *Server) admin(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, AdminPrefix) {
	case "metrics":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.errorPage(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		s.metrics.WriteText(w, s.store.Stats())
	case "purge":
		s.purge(w, r)
	default:
		s.errorPage(w, http.StatusNotFound, "no such admin endpoint")
	}
}

func (s *Server) purge(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != "PURGE" {
		w.Header().Set("Allow", "POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pail"`)
		s.errorPage(w, http.StatusUnauthorized, "purge needs the admin token")
		return
	}
	target := r.URL.Query().Get("url")
	u, err := url.Parse(target)
	if target == "" || err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		s.errorPage(w, http.StatusBadRequest, "url must be an absolute http URL")
		return
	}
	var n int
	if v := r.URL.Query().Get("prefix"); v == "1" || v == "true" {
		n = s.store.DeletePrefix(normalizeKeyPrefix(u))
	} else {
		n = s.store.DeleteKey(cacheKey(u))
	}
	s.metrics.Purged.Add(int64(n))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, "purged %d\n", n)
}

// authorized checks the bearer token in constant time.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.AdminToken == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) == 1
}

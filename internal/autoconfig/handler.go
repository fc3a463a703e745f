package autoconfig

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"pail/internal/address"
)

// Where clients look (Thunderbird's autoconfig: the Mozilla wiki's
// "Thunderbird:Autoconfiguration"; Outlook's autodiscover: [MS-OXDSCLI]
// §3.1.5).
const (
	// wellKnownPath is asked of https://DOMAIN/ (any host that serves
	// the domain).
	wellKnownPath = "/.well-known/autoconfig/mail/config-v1.1.xml"
	// autoconfigPath is asked of autoconfig.DOMAIN, over https and http.
	autoconfigPath = "/mail/config-v1.1.xml"
	// autoconfigHostPrefix is the label of the autoconfig host below a
	// mail domain.
	autoconfigHostPrefix = "autoconfig."
	// autodiscoverPath is POSTed to DOMAIN or autodiscover.DOMAIN (or the
	// host an _autodiscover._tcp SRV record names); Outlook capitalises
	// it, others do not, so it is matched without regard to case.
	autodiscoverPath = "/autodiscover/autodiscover.xml"
	// cacheFor is how long clients and proxies may keep a document: it
	// changes only when [listen] or the host name does (a restart).
	cacheFor = "public, max-age=3600"
)

// Handler serves the client configuration documents of the local
// domains; every other request goes to Next:
//
//   - GET (or HEAD) /.well-known/autoconfig/mail/config-v1.1.xml on any
//     host, and /mail/config-v1.1.xml on autoconfig.DOMAIN: Thunderbird's
//     XML for the domain of the emailaddress parameter, or else of the
//     host (autoconfig. taken off). A domain that is not local gets 404.
//   - POST /autodiscover/autodiscover.xml (in any case): the POX answer
//     for the request's EMailAddress; a body that is not a request, or
//     over MaxAutodiscoverRequest, gets 400 or 413 with an autodiscover
//     error, an address of another domain 404.
//
// Nothing is answered about whether an account exists: the documents
// depend on the domain alone (the login name is the address asked
// about).
type Handler struct {
	// Services are what the documents name.
	Services Services
	// IsLocal reports whether domain (lower case, no trailing dot) is one
	// of ours; it may change while the handler runs (a reload).
	IsLocal func(domain string) bool
	// Next answers every other request; nil answers 404.
	Next http.Handler
	// Log records documents that could not be made; nil discards.
	Log *slog.Logger
	// Now stamps autodiscover errors; nil means time.Now.
	Now func() time.Time
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == wellKnownPath:
		h.serveThunderbird(w, r, "")
	case r.URL.Path == autoconfigPath:
		domain, ok := strings.CutPrefix(requestHost(r), autoconfigHostPrefix)
		if !ok || !h.local(domain) {
			h.next(w, r)
			return
		}
		h.serveThunderbird(w, r, domain)
	case strings.EqualFold(r.URL.Path, autodiscoverPath):
		h.serveAutodiscover(w, r)
	default:
		h.next(w, r)
	}
}

func (h *Handler) next(w http.ResponseWriter, r *http.Request) {
	if h.Next != nil {
		h.Next.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// local reports whether domain is a local domain.
func (h *Handler) local(domain string) bool {
	return domain != "" && h.IsLocal != nil && h.IsLocal(domain)
}

// serveThunderbird answers a Thunderbird autoconfig request. hostDomain
// is the domain of the autoconfig.DOMAIN host, "" on the well-known path.
func (h *Handler) serveThunderbird(w http.ResponseWriter, r *http.Request, hostDomain string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	domain := hostDomain
	if addr := r.URL.Query().Get("emailaddress"); addr != "" {
		_, d, err := address.Split(addr)
		if err != nil {
			http.Error(w, "emailaddress is not an address", http.StatusBadRequest)
			return
		}
		domain = d
	} else if domain == "" {
		domain = strings.TrimPrefix(requestHost(r), autoconfigHostPrefix)
	}
	if !h.local(domain) {
		http.NotFound(w, r)
		return
	}
	doc, err := h.Services.Thunderbird(domain)
	if err != nil {
		h.internal(w, err)
		return
	}
	writeDoc(w, r, http.StatusOK, "application/xml; charset=utf-8", cacheFor, doc)
}

// serveAutodiscover answers a POX autodiscover request.
func (h *Handler) serveAutodiscover(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var addr, schema string
	err := ErrRequestTooLarge
	if r.ContentLength <= MaxAutodiscoverRequest {
		addr, schema, err = ParseAutodiscoverRequest(r.Body)
	}
	switch {
	case errors.Is(err, ErrRequestTooLarge):
		// The rest of the body is not read: the connection ends.
		w.Header().Set("Connection", "close")
		h.autodiscoverFailure(w, r, http.StatusRequestEntityTooLarge, ErrorInvalidRequest, "Invalid Request")
		return
	case err != nil:
		h.autodiscoverFailure(w, r, http.StatusBadRequest, ErrorInvalidRequest, "Invalid Request")
		return
	}
	_, domain, _ := address.Split(addr)
	if !h.local(domain) {
		http.NotFound(w, r)
		return
	}
	if schema != "" && schema != OutlookSchema {
		// Such as mobilesync (Exchange ActiveSync), which pail does not
		// speak; the client goes on to IMAP/SMTP settings of its own.
		h.autodiscoverFailure(w, r, http.StatusOK, ErrorNoProvider, "Provider is not available")
		return
	}
	doc, err := h.Services.Autodiscover(addr)
	if err != nil {
		h.internal(w, err)
		return
	}
	writeDoc(w, r, http.StatusOK, "application/xml; charset=utf-8", "no-store", doc)
}

// autodiscoverFailure answers status with an autodiscover error document.
func (h *Handler) autodiscoverFailure(w http.ResponseWriter, r *http.Request, status, code int, msg string) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	doc, err := h.Services.AutodiscoverFailure(code, msg, now())
	if err != nil {
		h.internal(w, err)
		return
	}
	writeDoc(w, r, status, "application/xml; charset=utf-8", "no-store", doc)
}

// internal logs an unexpected error and answers a generic 500.
func (h *Handler) internal(w http.ResponseWriter, err error) {
	if h.Log != nil {
		h.Log.Error("autoconfig: document not made", "err", err)
	}
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// writeDoc writes a document with its type, length and caching.
func writeDoc(w http.ResponseWriter, r *http.Request, status int, contentType, cache string, doc []byte) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Length", strconv.Itoa(len(doc)))
	hd.Set("Cache-Control", cache)
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(doc)
	}
}

// requestHost is the request's host name: lower case, without port or
// trailing dot.
func requestHost(r *http.Request) string {
	host := r.Host
	if hp, _, err := net.SplitHostPort(host); err == nil {
		host = hp
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

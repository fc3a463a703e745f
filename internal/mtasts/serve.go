package mtasts

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// policyHostPrefix is the label of the policy host below a policy domain
// (RFC 8461 §3.2: https://mta-sts.DOMAIN/.well-known/mta-sts.txt).
const policyHostPrefix = "mta-sts."

// Handler serves the policies of local domains (RFC 8461 §3.2): a GET
// (or HEAD) of /.well-known/mta-sts.txt over TLS whose Host is
// mta-sts.D, for a domain D that Policy knows, gets D's policy as
// text/plain. Every other request goes to Next (a plain-HTTP request
// too: §3.3 has policies fetched over HTTPS only).
type Handler struct {
	// Policy returns the policy served for domain (lower case, no
	// trailing dot); false when domain is not one of ours.
	Policy func(domain string) (*Policy, bool)
	// Next answers every other request; nil answers 404.
	Next http.Handler
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := h.policyFor(r)
	if !ok {
		if h.Next != nil {
			h.Next.ServeHTTP(w, r)
		} else {
			http.NotFound(w, r)
		}
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body := p.String()
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// §3.3: senders must not cache over HTTP; say so to proxies too.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write([]byte(body))
	}
}

// policyFor returns the policy r asks for, if it asks for one of ours.
func (h *Handler) policyFor(r *http.Request) (*Policy, bool) {
	if r.TLS == nil || r.URL.Path != policyPath || h.Policy == nil {
		return nil, false
	}
	host := r.Host
	if hp, _, err := net.SplitHostPort(host); err == nil {
		host = hp
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	domain, ok := strings.CutPrefix(host, policyHostPrefix)
	if !ok || !hostName(domain) {
		return nil, false
	}
	return h.Policy(domain)
}

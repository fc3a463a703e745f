package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
)

// Loop detection (RFC 9110 §7.6.3: Via "can be used for ... identifying
// the protocol capabilities of all senders along the request/response
// chain", and so a request that has already passed through this proxy).
// Every request pail sends to an origin carries the Via member
// "1.1 NAME (ID)": NAME is the pseudonym (Config.Name) and ID a random
// per-process comment. A request that arrives carrying a member with our
// pseudonym is a loop and answered 508 at once, before routing, cache
// lookup or coalescing, so that it can never wait for the fetch that
// sent it (which would wait for it in turn). A member with our pseudonym
// and another ID comes from another proxy that uses the same name (two
// pail proxies in a chain) and is no loop; one with our pseudonym and no
// comment is taken as ours, since a recipient MAY drop comments.

// viaIDBytes is the size of the per-process Via comment's randomness:
// enough that two proxies never draw the same.
const viaIDBytes = 8

// newViaID returns a fresh Via comment value.
func newViaID() string {
	var b [viaIDBytes]byte
	rand.Read(b[:])
	return "pail-" + hex.EncodeToString(b[:])
}

// requestVia renders our Via member for a request to an origin.
func (s *Server) requestVia(major, minor int) string {
	return viaEntry(major, minor, s.cfg.Name) + " (" + s.viaID + ")"
}

// looped reports whether the Via field lines vs carry our own member.
func (s *Server) looped(vs []string) bool {
	for _, v := range vs {
		for m := range strings.SplitSeq(v, ",") {
			if s.ourVia(strings.TrimSpace(m)) {
				return true
			}
		}
	}
	return false
}

// ourVia reports whether one Via member ("1.1 name (comment)", RFC 9110
// §7.6.3) is ours: our pseudonym, and our comment or none.
func (s *Server) ourVia(m string) bool {
	_, rest, ok := strings.Cut(m, " ") // received-protocol
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	by, comment, _ := strings.Cut(rest, " ")
	if !strings.EqualFold(by, s.cfg.Name) {
		return false
	}
	comment = strings.TrimSpace(comment)
	if comment == "" {
		return true
	}
	return strings.TrimSuffix(strings.TrimPrefix(comment, "("), ")") == s.viaID
}

// loopDetected answers a request that came back to this proxy (RFC 4918
// §11.2's 508 Loop Detected, the code for an infinite loop found while
// processing a request).
func (s *Server) loopDetected(w http.ResponseWriter) {
	s.metrics.Loops.Add(1)
	w.Header().Set("Cache-Status", s.cfg.Name+"; fwd=miss; detail=loop")
	s.errorPage(w, http.StatusLoopDetected, "this request has already passed through "+s.cfg.Name+" (Via)")
}

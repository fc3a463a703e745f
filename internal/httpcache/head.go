package httpcache

import (
	"net/http"
	"strconv"
)

// HeadMatches reports whether a 200 response to HEAD may update the
// stored GET response e (RFC 9111 §4.3.5): every validator the HEAD
// response carries (ETag, Last-Modified) must equal e's, and its
// Content-Length, when present, must be e's length. Otherwise the stored
// response is to be considered stale.
func HeadMatches(e *Entry, head http.Header) bool {
	if e.Status != http.StatusOK {
		return false // a HEAD 200 describes a 200, not what e holds
	}
	for _, f := range []string{"ETag", "Last-Modified"} {
		if v := head.Get(f); v != "" && v != e.Header.Get(f) {
			return false
		}
	}
	if cl := head.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n != e.Size {
			return false
		}
	}
	return true
}

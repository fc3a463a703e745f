package httpcache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Heuristic freshness (RFC 9111 §4.2.2).
const (
	// heuristicFraction is the "typical setting" of 10% of the time since
	// Last-Modified that RFC 9111 §4.2.2 mentions.
	heuristicFraction = 10
	// maxHeuristic caps a heuristic lifetime so that a years-old file is
	// still checked daily.
	maxHeuristic = 24 * time.Hour
)

// heuristicStatus lists the status codes that are heuristically cacheable
// by default (RFC 9110 §15.1).
var heuristicStatus = map[int]bool{
	200: true, 203: true, 204: true, 206: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true,
}

// HeuristicallyCacheable reports whether status is cacheable by default
// (RFC 9110 §15.1).
func HeuristicallyCacheable(status int) bool { return heuristicStatus[status] }

// Freshness is what the cache knows about an entry's age at one moment.
type Freshness struct {
	// Lifetime is the freshness lifetime (RFC 9111 §4.2.1).
	Lifetime time.Duration
	// Age is the current_age (RFC 9111 §4.2.3).
	Age time.Duration
	// Heuristic is true when Lifetime came from §4.2.2.
	Heuristic bool
}

// Fresh reports whether the entry is fresh (RFC 9111 §4.2).
func (f Freshness) Fresh() bool { return f.Lifetime > f.Age }

// Staleness is how long ago the entry became stale (zero when fresh).
func (f Freshness) Staleness() time.Duration { return max(0, f.Age-f.Lifetime) }

// FreshnessOf computes an entry's freshness at now for a shared cache.
func FreshnessOf(e *Entry, now time.Time) Freshness {
	m := e.meta()
	return Freshness{Lifetime: m.lifetime, Age: CurrentAge(e, now), Heuristic: m.heuristic}
}

// Lifetime computes freshness_lifetime for a shared cache (RFC 9111
// §4.2.1): s-maxage, then max-age, then Expires minus Date, then a
// heuristic. An invalid s-maxage or max-age makes the response stale
// (lifetime 0); so does an invalid Expires (RFC 9111 §5.3). The
// directives are those of ResponseDirectives: CDN-Cache-Control, when
// valid, replaces Cache-Control and Expires (RFC 9213 §2.1).
func Lifetime(status int, h http.Header, responseTime time.Time) (time.Duration, bool) {
	cc, targeted := ResponseDirectives(h)
	return lifetime(status, h, cc, targeted, dateOf(h, responseTime))
}

// lifetime is Lifetime with the header's directives and date_value
// already parsed; targeted says cc came from CDN-Cache-Control.
func lifetime(status int, h http.Header, cc Directives, targeted bool, date time.Time) (time.Duration, bool) {
	for _, name := range []string{"s-maxage", "max-age"} {
		if n, present, valid := cc.Seconds(name); present {
			if !valid {
				return 0, false
			}
			return time.Duration(n) * time.Second, false
		}
	}
	if vs := h.Values("Expires"); len(vs) > 0 && !targeted {
		// RFC 9111 §5.3: an invalid date is in the past. Expires is a
		// singleton (RFC 9110 §5.5): several lines are invalid too.
		exp, err := ParseHTTPDate(vs[0])
		if err != nil || len(vs) > 1 {
			return 0, false
		}
		return max(0, exp.Sub(date)), false
	}
	// RFC 9111 §4.2.2: heuristics only when nothing explicit is given and
	// the status is heuristically cacheable or the response is public.
	if !HeuristicallyCacheable(status) && !cc.Has("public") {
		return 0, false
	}
	lm, err := ParseHTTPDate(h.Get("Last-Modified"))
	if err != nil || !lm.Before(date) {
		return 0, true
	}
	return min(date.Sub(lm)/heuristicFraction, maxHeuristic), true
}

// HasExplicitExpiry reports whether the response carries s-maxage,
// max-age or Expires (RFC 9111 §4.2.1), in CDN-Cache-Control when that
// applies (RFC 9213 §2.1).
func HasExplicitExpiry(h http.Header) bool {
	cc, targeted := ResponseDirectives(h)
	return hasExplicitExpiry(h, cc, targeted)
}

func hasExplicitExpiry(h http.Header, cc Directives, targeted bool) bool {
	return cc.Has("s-maxage") || cc.Has("max-age") || !targeted && len(h.Values("Expires")) > 0
}

// dateOf returns date_value: the Date header, or fallback when it is
// missing or invalid (RFC 9110 §6.6.1: the recipient records the time of
// receipt).
func dateOf(h http.Header, fallback time.Time) time.Time {
	if d, err := ParseHTTPDate(h.Get("Date")); err == nil {
		return d
	}
	return fallback
}

// AgeValue returns age_value (RFC 9111 §5.1): the first member of the Age
// field; an invalid value is ignored (0).
func AgeValue(h http.Header) time.Duration {
	vs := h.Values("Age")
	if len(vs) == 0 {
		return 0
	}
	first, _, _ := strings.Cut(vs[0], ",")
	n, ok := parseDeltaSeconds(strings.TrimSpace(first))
	if !ok {
		return 0
	}
	return time.Duration(n) * time.Second
}

// CurrentAge implements the age calculation of RFC 9111 §4.2.3.
// The part fixed when the response arrived (apparent_age,
// corrected_age_value, corrected_initial_age) is computed once per entry.
func CurrentAge(e *Entry, now time.Time) time.Duration {
	resident := max(0, now.Sub(e.ResponseTime))
	return e.meta().initialAge + resident
}

// FormatAge renders an Age field value: whole seconds (RFC 9111 §5.1).
func FormatAge(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10)
}

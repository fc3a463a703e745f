package httpcache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// varyFields returns the canonical field names listed by the response's
// Vary field lines (RFC 9110 §12.5.5), "*" kept as is.
func varyFields(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Vary") {
		for _, f := range splitList(line) {
			if f == "*" {
				out = append(out, f)
				continue
			}
			out = append(out, http.CanonicalHeaderKey(f))
		}
	}
	return out
}

// normalizeField combines a request field's lines into one value and
// normalises whitespace around list separators, as RFC 9111 §4.1 allows
// ("combining multiple header field lines", "normalizing both header field
// values"). The weighted lists Accept-Language and Accept-Encoding are
// normalised further (normalizeWeighted). ok is false when the field is
// absent.
func normalizeField(req http.Header, name string) (string, bool) {
	vs, ok := req[name]
	if !ok {
		return "", false
	}
	if weightedField(name) {
		return normalizeWeighted(vs), true
	}
	var parts []string
	for _, v := range vs {
		for _, el := range strings.Split(v, ",") {
			parts = append(parts, strings.Join(strings.Fields(el), " "))
		}
	}
	return strings.Join(parts, ","), true
}

// weightedField reports the request fields whose value is a list of
// case-insensitive tokens with quality values, whose order carries no
// meaning beyond the weights (RFC 9110 §12.4.2, §12.5.3, §12.5.4).
func weightedField(name string) bool {
	return name == "Accept-Language" || name == "Accept-Encoding"
}

// maxWeightedElements bounds the elements normalizeWeighted sorts; a
// longer list is kept in its own order (it then matches only itself).
const maxWeightedElements = 64

// normalizeWeighted renders a weighted list so that lists a server cannot
// tell apart compare equal (RFC 9111 §4.1): elements lower-cased, without
// whitespace, with their qvalue in its shortest form (q=1 left out,
// RFC 9110 §12.4.2), ordered by weight and then by name. "en, De" and
// "de,en;q=1.0" both become "de,en".
func normalizeWeighted(lines []string) string {
	type element struct {
		name string
		w    int // the qvalue in thousandths
	}
	var els []element
	for _, line := range lines {
		for _, el := range splitList(line) {
			name, params, _ := strings.Cut(el, ";")
			e := element{name: strings.ToLower(strings.TrimSpace(name)), w: 1000}
			for params != "" {
				var p string
				p, params, _ = strings.Cut(params, ";")
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if w, ok := parseQValue(strings.TrimSpace(v)); ok {
						e.w = w
						continue
					}
				}
				// Another parameter, or a malformed qvalue: kept, so that
				// it still tells the list apart.
				e.name += ";" + strings.ToLower(strings.Join(strings.Fields(p), ""))
			}
			els = append(els, e)
		}
	}
	if len(els) <= maxWeightedElements {
		slices.SortStableFunc(els, func(a, b element) int {
			if a.w != b.w {
				return b.w - a.w
			}
			return strings.Compare(a.name, b.name)
		})
	}
	var b strings.Builder
	for i, e := range els {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e.name)
		if e.w != 1000 {
			b.WriteString(";q=")
			b.WriteString(formatQValue(e.w))
		}
	}
	return b.String()
}

// parseQValue parses a qvalue (RFC 9110 §12.4.2: "0" to "1" with at most
// three decimals) into thousandths.
func parseQValue(v string) (int, bool) {
	if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
		return 0, false
	}
	w := int(v[0]-'0') * 1000
	if len(v) == 1 {
		return w, true
	}
	if v[1] != '.' {
		return 0, false
	}
	scale := 100
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		w += int(c-'0') * scale
		scale /= 10
	}
	if w > 1000 {
		return 0, false
	}
	return w, true
}

// formatQValue renders thousandths below 1000 as the shortest qvalue.
func formatQValue(w int) string {
	if w == 0 {
		return "0"
	}
	return "0." + strings.TrimRight(strconv.Itoa(1000 + w)[1:], "0")
}

// VaryRequest captures the request fields nominated by the response's
// Vary, for storing with the entry.
func VaryRequest(resp, req http.Header) map[string]string {
	fields := varyFields(resp)
	if len(fields) == 0 {
		return nil
	}
	out := make(map[string]string, len(fields))
	for _, f := range fields {
		if v, ok := normalizeField(req, f); ok {
			out[f] = v
		}
	}
	return out
}

// VaryMatches reports whether a stored entry can be used for a request
// with header req (RFC 9111 §4.1): every field nominated by the stored
// Vary must match, absent matching absent; "Vary: *" never matches.
func VaryMatches(e *Entry, req http.Header) bool {
	m := e.meta()
	for i, f := range m.vary {
		if f == "*" {
			return false
		}
		want, stored := e.VaryRequest[f]
		// The common request sends the field as it was stored, or as
		// the last request that matched sent it: no normalising then.
		if vs := req[f]; stored && len(vs) == 1 && (vs[0] == want || seen(&m.varySeen[i], vs[0])) {
			continue
		}
		got, ok := normalizeField(req, f)
		if ok != stored || got != want {
			return false
		}
		if vs := req[f]; len(vs) == 1 {
			m.varySeen[i].Store(&vs[0])
		}
	}
	return true
}

// seen reports whether p holds v.
func seen(p *atomic.Pointer[string], v string) bool {
	s := p.Load()
	return s != nil && *s == v
}

package verify

import (
	"slices"
	"strings"

	"pail/internal/mailheader"
)

// From is the author of a message, as DMARC reads it (RFC 7489 §6.6.1).
type From struct {
	Address string // the address of the From field
	Domain  string // its domain, lower case; "" when there is none to check
	// Problem says why Domain is empty though the message has a From
	// (several From fields, several authors of different domains, no
	// readable address): DMARC is then a permerror.
	Problem string
}

// parseFrom finds the RFC5322.From domain. RFC 7489 §6.6.1: a message
// with several From fields, or one with several addresses of different
// domains, has no one domain to apply a policy to.
func parseFrom(header []byte, complete bool) From {
	if !complete {
		return From{Problem: "header section too large"}
	}
	values := mailheader.Values(header, "From")
	switch len(values) {
	case 0:
		return From{Problem: "no From field"}
	case 1:
	default:
		return From{Problem: "several From fields"}
	}
	list, err := mailheader.ParseAddressList(string(values[0]))
	if err != nil || len(list) == 0 {
		return From{Problem: "From has no readable address"}
	}
	var out From
	for _, a := range list {
		at := strings.LastIndexByte(a.Address, '@')
		if at < 0 {
			return From{Problem: "From has no domain"}
		}
		d := strings.ToLower(strings.TrimSuffix(a.Address[at+1:], "."))
		if out.Domain != "" && d != out.Domain {
			return From{Problem: "From has authors of different domains"}
		}
		out.Address, out.Domain = a.Address, d
	}
	return out
}

// FieldSpans returns where the fields named name (case-insensitive, RFC
// 5322 §1.2.2) are in a header section, from the top, each with its
// continuation lines and final CRLF: what a judge removes a field by
// (Verdict.Remove). header must be the whole section (Message.Header with
// HeaderComplete): a field cut off at its end would be removed only in
// part.
func FieldSpans(header []byte, name string) []Span {
	var out []Span
	for f := range mailheader.Fields(header) {
		if f.Is(name) {
			out = append(out, Span{int64(f.Start), int64(f.End)})
		}
	}
	return out
}

// mergeSpans sorts spans and joins those that overlap or touch, so that
// each byte is left out once and in order (delivery.Message.Omit wants
// them so).
func mergeSpans(spans []Span) []Span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b Span) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.Start <= last.End {
			last.End = max(last.End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

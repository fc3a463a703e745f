package verify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"pail/internal/mailheader"
)

// DKIMResult is the verification of one DKIM-Signature (RFC 6376 §6).
type DKIMResult struct {
	Value     string // pass, fail, neutral, temperror, permerror, or none (no signature)
	Domain    string // d=, the SDID
	Selector  string // s=
	Algorithm string // a=
	// Identifier is i=, the AUID.
	Identifier string
	// B is the start of b= (RFC 6008 §2: header.b tells signatures of
	// one domain apart).
	B      string
	Reason string
}

// headerBPrefix is how much of b= header.b carries: RFC 6008 §4 asks for
// at least 8 characters.
const headerBPrefix = 12

// checkDKIM verifies the first MaxSignatures DKIM signatures of the
// message; a message without any gives one result of none.
func (c *Checker) checkDKIM(ctx context.Context, m *Message) []DKIMResult {
	sigs := signatures(m.Header)
	if len(sigs) == 0 {
		return []DKIMResult{{Value: "none"}}
	}
	if len(sigs) > MaxSignatures {
		sigs = sigs[:MaxSignatures]
	}
	if !m.HeaderComplete {
		for i := range sigs {
			sigs[i].Value, sigs[i].Reason = "permerror", "header section too large"
		}
		return sigs
	}
	opts := &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return c.Resolver.LookupTXT(ctx, name) },
		MaxVerifications: MaxSignatures,
	}
	vs, err := dkim.VerifyWithOptions(io.NewSectionReader(m.Content, 0, m.Size), opts)
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// The message could not be read as one (a header the library
		// does not take): no signature could be checked.
		for i := range sigs {
			sigs[i].Value, sigs[i].Reason = "permerror", err.Error()
		}
		return sigs
	}
	// The library verifies the signatures in header order, as
	// signatures lists them.
	for i := range sigs {
		if i >= len(vs) {
			sigs[i].Value, sigs[i].Reason = "permerror", "signature not read"
			continue
		}
		v := vs[i]
		switch {
		case v.Err == nil:
			sigs[i].Value = "pass"
		case dkim.IsTempFail(v.Err):
			sigs[i].Value, sigs[i].Reason = "temperror", v.Err.Error()
		case dkim.IsPermFail(v.Err):
			sigs[i].Value, sigs[i].Reason = "permerror", v.Err.Error()
		default:
			sigs[i].Value, sigs[i].Reason = "fail", v.Err.Error()
		}
		if v.Domain != "" {
			sigs[i].Domain = v.Domain
		}
	}
	return sigs
}

// signatures reads the tags of every DKIM-Signature field of a header
// section that AR reports name: d=, s=, a=, i= and the start of b=.
func signatures(header []byte) []DKIMResult {
	var out []DKIMResult
	for f := range mailheader.Fields(header) {
		if !f.Is("DKIM-Signature") {
			continue
		}
		var r DKIMResult
		for tag, val := range tags(f.Value) {
			switch tag {
			case "d":
				r.Domain = strings.ToLower(val)
			case "s":
				r.Selector = val
			case "a":
				r.Algorithm = strings.ToLower(val)
			case "i":
				r.Identifier = val
			case "b":
				r.B = val[:min(len(val), headerBPrefix)]
			}
		}
		out = append(out, r)
	}
	return out
}

// tags yields the tag=value pairs of a tag list (RFC 6376 §3.2), with the
// whitespace inside values removed (FWS is ignored there, as in b= and
// bh=) and names as written.
func tags(value []byte) func(yield func(string, string) bool) {
	return func(yield func(string, string) bool) {
		for spec := range bytes.SplitSeq(value, []byte(";")) {
			name, val, ok := bytes.Cut(spec, []byte("="))
			if !ok {
				continue
			}
			n := string(bytes.TrimSpace(name))
			v := strings.Join(strings.Fields(string(val)), "")
			if n == "" {
				continue
			}
			if !yield(n, v) {
				return
			}
		}
	}
}

package verify

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"pail/internal/mailheader"
)

// Results are the outcomes of the checks of one message.
type Results struct {
	// AuthServID is the authserv-id: pail's host name (RFC 8601 §2.5).
	AuthServID string
	// User is set for mail from an authenticated submission session,
	// which gets auth=pass and none of the other checks.
	User  string
	SPF   SPFResult
	DKIM  []DKIMResult
	DMARC DMARCResult
	IPRev IPRevResult
	From  From
}

// maxReason bounds the reason text of one result.
const maxReason = 100

// reason makes a library's error text safe as a reason value: printable
// ASCII, none of the characters that end a result (';', RFC 8601 §2.2)
// or a quoted-string, and short.
func reason(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == ';' || r == '"' || r == '\\' || r == '(' || r == ')' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxReason {
		s = s[:maxReason]
	}
	return s
}

// Field returns the Authentication-Results field (RFC 8601 §2.2), folded
// one result a line and ending in CRLF, ready to be prepended to the
// message.
func (r *Results) Field() string {
	// Format leaves a space after a result without properties.
	v := strings.TrimSpace(strings.ReplaceAll(authres.Format(r.AuthServID, r.authResults()), " ; ", "; "))
	// Each result on a line of its own (RFC 5322 §2.2.3 folding), so
	// that no line grows past the limit however many signatures there are.
	return "Authentication-Results: " + strings.ReplaceAll(v, "; ", ";\r\n\t") + "\r\n"
}

func (r *Results) authResults() []authres.Result {
	if r.User != "" {
		// RFC 8601 §2.7.4: smtp.auth is the authenticated identity.
		return []authres.Result{&authres.AuthResult{Value: authres.ResultPass, Auth: r.User}}
	}
	out := []authres.Result{&authres.SPFResult{
		Value: authres.ResultValue(r.SPF.Value), Reason: reason(r.SPF.Reason),
		From: r.SPF.MailFrom, Helo: r.SPF.Helo,
	}}
	for _, d := range r.DKIM {
		params := map[string]string{"reason": reason(d.Reason)}
		if d.Value != "none" {
			// RFC 8601 §2.7.1 header.d, header.i; RFC 6008 header.b;
			// header.s and header.a as registered by RFC 8616's
			// successors (IANA "Email Authentication Parameters").
			params["header.d"] = d.Domain
			params["header.i"] = d.Identifier
			params["header.s"] = d.Selector
			params["header.a"] = d.Algorithm
			params["header.b"] = d.B
		}
		out = append(out, &authres.GenericResult{Method: "dkim", Value: authres.ResultValue(d.Value), Params: params})
	}
	dm := r.DMARC.Reason
	if r.DMARC.Value == "fail" && r.DMARC.RecordPolicy != "" {
		dm = strings.TrimSpace("p=" + r.DMARC.RecordPolicy + " " + dm)
	}
	out = append(out, &authres.DMARCResult{Value: authres.ResultValue(r.DMARC.Value), Reason: reason(dm), From: r.DMARC.Domain})
	ip := ""
	if r.IPRev.IP.IsValid() {
		ip = r.IPRev.IP.String()
	}
	out = append(out, &authres.IPRevResult{Value: authres.ResultValue(r.IPRev.Value), Reason: reason(r.IPRev.Reason), IP: ip})
	return out
}

// Span is a range of bytes of the content, [Start, End).
type Span struct{ Start, End int64 }

// OwnResults returns the Authentication-Results fields of a header section
// that claim authServID (compared case-insensitively: it is a domain
// name), which RFC 8601 §5 requires a border MTA to remove: only pail
// writes results in its own name. Fields of other authserv-ids stay.
func OwnResults(header []byte, authServID string) []Span {
	var out []Span
	for f := range mailheader.Fields(header) {
		if f.Is("Authentication-Results") && strings.EqualFold(ServID(f.Value), authServID) {
			out = append(out, Span{int64(f.Start), int64(f.End)})
		}
	}
	return out
}

// ServID returns the authserv-id of an Authentication-Results value
// (RFC 8601 §2.2: [CFWS] authserv-id, a value: a token or a
// quoted-string, RFC 2045 §5.1), or "" when it has none.
func ServID(v []byte) string {
	i := skipCFWS(v, 0)
	if i >= len(v) {
		return ""
	}
	if v[i] == '"' {
		var b strings.Builder
		for i++; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return b.String()
			default:
				b.WriteByte(v[i])
			}
		}
		return "" // unterminated
	}
	// A token (RFC 2045 §5.1) in theory; in practice a domain name,
	// read up to white space, a comment or the ';' before the results.
	j := i
	for j < len(v) && v[j] > ' ' && v[j] < 0x7f && v[j] != ';' && v[j] != '(' {
		j++
	}
	return string(v[i:j])
}

// maxCommentDepth bounds nested comments (RFC 5322 §3.2.2).
const maxCommentDepth = 64

// skipCFWS skips folding white space and comments from i.
func skipCFWS(v []byte, i int) int {
	depth := 0
	for i < len(v) {
		switch c := v[i]; {
		case c == '(':
			depth++
			if depth > maxCommentDepth {
				return len(v)
			}
		case c == ')' && depth > 0:
			depth--
		case c == '\\' && depth > 0:
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case depth > 0:
		default:
			return i
		}
		i++
	}
	return i
}

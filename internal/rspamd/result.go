package rspamd

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Action is what rspamd recommends doing with a message: the "action"
// of its reply, spelled as rspamd spells it (with spaces).
type Action string

// The actions of rspamd's protocol, from the mildest.
const (
	NoAction       Action = "no action"       // likely ham
	Greylist       Action = "greylist"        // temporary refusal, accepted when the client retries
	AddHeader      Action = "add header"      // suspicious: mark it as spam
	RewriteSubject Action = "rewrite subject" // suspicious: mark it and rewrite its Subject
	SoftReject     Action = "soft reject"     // refuse for now (a rate limit, say)
	Reject         Action = "reject"          // spam: refuse it
)

// Symbol is one rule that matched.
type Symbol struct {
	Name        string   `json:"name"`
	Score       float64  `json:"score"`
	Description string   `json:"description,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// Header is one header field to add to a message.
type Header struct {
	Name, Value string
}

// Result is rspamd's answer to a check.
type Result struct {
	Action        Action
	Score         float64
	RequiredScore float64
	// Symbols are the rules that matched, by name.
	Symbols map[string]Symbol
	// Subject is the rewritten Subject, with RewriteSubject.
	Subject string
	// SMTPMessage is the text rspamd suggests for the SMTP reply
	// (messages.smtp_message), as rspamd sent it.
	SMTPMessage string
	// MessageID is the Message-ID rspamd saw, for logs.
	MessageID string
	// AddHeaders are the header fields rspamd's milter_headers module
	// asks to add (milter.add_headers), in their order.
	AddHeaders []Header
	// RemoveHeaders are the header fields it asks to remove
	// (milter.remove_headers): name → which one (0: every one; n > 0 the
	// nth from the top; n < 0 the -nth from the bottom).
	RemoveHeaders map[string]int
}

// reply is the JSON of a /checkv2 reply, the fields pail uses.
type reply struct {
	Action        *string           `json:"action"`
	Score         float64           `json:"score"`
	RequiredScore float64           `json:"required_score"`
	Symbols       map[string]Symbol `json:"symbols"`
	Subject       string            `json:"subject"`
	Messages      map[string]any    `json:"messages"`
	MessageID     string            `json:"message-id"`
	Milter        *struct {
		AddHeaders    map[string]milterValues `json:"add_headers"`
		RemoveHeaders map[string]int          `json:"remove_headers"`
	} `json:"milter"`
}

// milterValues is one add_headers entry: a string, an object
// {"value": ..., "order": n}, or a list of either (rspamd's milter
// protocol accepts all three).
type milterValues []milterValue

type milterValue struct {
	Value string `json:"value"`
	Order int    `json:"order"`
}

func (m *milterValues) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*m = milterValues{{Value: s, Order: math.MaxInt}}
		return nil
	}
	var one milterValue
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*m = milterValues{one}
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("add_headers value is not a string, an object or a list")
	}
	for _, raw := range list {
		var v milterValues
		if err := v.UnmarshalJSON(raw); err != nil {
			return err
		}
		*m = append(*m, v...)
	}
	return nil
}

// parseResult reads a /checkv2 reply.
func parseResult(body []byte) (Result, error) {
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		return Result{}, fmt.Errorf("reply is not rspamd's JSON: %w", err)
	}
	if r.Action == nil || *r.Action == "" {
		return Result{}, errors.New("reply has no action")
	}
	res := Result{
		Action:        Action(*r.Action),
		Score:         r.Score,
		RequiredScore: r.RequiredScore,
		Symbols:       r.Symbols,
		Subject:       r.Subject,
		MessageID:     r.MessageID,
	}
	if s, ok := r.Messages["smtp_message"].(string); ok {
		res.SMTPMessage = s
	}
	if r.Milter != nil {
		type entry struct {
			h     Header
			order int
		}
		var all []entry
		for name, vs := range r.Milter.AddHeaders {
			if !validFieldName(name) {
				continue
			}
			for _, v := range vs {
				all = append(all, entry{Header{name, v.Value}, v.Order})
			}
		}
		slices.SortStableFunc(all, func(a, b entry) int {
			return cmp.Or(cmp.Compare(a.order, b.order), strings.Compare(a.h.Name, b.h.Name))
		})
		for _, e := range all {
			res.AddHeaders = append(res.AddHeaders, e.h)
		}
		for name, n := range r.Milter.RemoveHeaders {
			if validFieldName(name) {
				if res.RemoveHeaders == nil {
					res.RemoveHeaders = map[string]int{}
				}
				res.RemoveHeaders[name] = n
			}
		}
	}
	return res, nil
}

// validFieldName reports whether s is a header field name (RFC 5322
// §3.6.8: printable ASCII but the colon).
func validFieldName(s string) bool {
	if s == "" || len(s) > 76 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 || s[i] == ':' {
			return false
		}
	}
	return true
}

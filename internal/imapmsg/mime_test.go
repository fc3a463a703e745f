package imapmsg

import (
	"strings"
	"testing"

	"pail/internal/imapwire"
)

// TestParseAddresses: groups keep their start and end markers, empty
// groups included (RFC 5322 §3.4, RFC 9051 §9 address); comments and
// quoted names are read.
func TestParseAddresses(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`Jack <jack@town.com>`, `(("Jack" NIL "jack" "town.com"))`},
		{`"Hill, Jill" <jill@hill.com>, bob@hill.com (Bob)`, `(("Hill, Jill" NIL "jill" "hill.com")("Bob" NIL "bob" "hill.com"))`},
		{`Team: a@x.org, B <b@y.org>;, c@z.org`, `((NIL NIL "Team" NIL)(NIL NIL "a" "x.org")("B" NIL "b" "y.org")(NIL NIL NIL NIL)(NIL NIL "c" "z.org"))`},
		{`undisclosed-recipients:;`, `((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))`},
		{`(comment) Jack (x) <@route:jack@town.com>`, `(("Jack" "@route" "jack" "town.com"))`},
		{``, `NIL`},
	} {
		e := &imapwire.Envelope{From: parseAddresses(c.in)}
		got := string(e.AppendTo(nil, false))
		// The From list is the third element: skip "(NIL NIL ".
		got = strings.TrimPrefix(got, "(NIL NIL ")
		if !strings.HasPrefix(got, c.want+" ") {
			t.Errorf("%q: %s, want %s", c.in, got, c.want)
		}
	}
}

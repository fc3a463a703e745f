package imapwire

import "testing"

// NOTIFY's grammar (RFC 5465 §8), with the examples of §7.
func TestNotifyCommand(t *testing.T) {
	tests := []struct {
		in   string
		want *NotifyArgs
	}{
		{`a NOTIFY NONE`, &NotifyArgs{None: true}},
		{`a notify set status (selected (MessageNew (uid body.peek[header.fields (From To)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge)) (mailboxes (INBOX "a b") NONE)`,
			&NotifyArgs{Status: true, Groups: []NotifyGroup{
				{Filter: "SELECTED", Events: []string{"MessageNew", "MessageExpunge"}, Fetch: []FetchItem{
					{Name: "UID"},
					{Name: "BODY", Peek: true, Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"From", "To"}}},
				}},
				{Filter: "SUBTREE", Mailboxes: []string{"Lists"}, Events: []string{"MessageNew", "MessageExpunge"}},
				{Filter: "MAILBOXES", Mailboxes: []string{"INBOX", "a b"}},
			}}},
		{`a NOTIFY SET (SELECTED-DELAYED (FlagChange)) (PERSONAL (MailboxName SubscriptionChange AnnotationChange))`,
			&NotifyArgs{Groups: []NotifyGroup{
				{Filter: "SELECTED-DELAYED", Events: []string{"FlagChange"}},
				{Filter: "PERSONAL", Events: []string{"MailboxName", "SubscriptionChange", "AnnotationChange"}},
			}}},
	}
	for _, tc := range tests {
		c := readCmd(t, tc.in, Options{})
		eq(t, tc.in, c.Args, tc.want)
	}
	for _, in := range []string{
		`a NOTIFY`, `a NOTIFY SET`, `a NOTIFY SET STATUS`, `a NOTIFY ALL`,
		`a NOTIFY SET (PERSONAL)`, `a NOTIFY SET (NOWHERE (MessageNew))`,
		`a NOTIFY SET (PERSONAL (Bogus))`, `a NOTIFY SET (SUBTREE (MessageNew))`,
		`a NOTIFY SET (PERSONAL (MessageNew ()))`, `a NOTIFY SET (PERSONAL ())`,
	} {
		r := newTestReader(in+"\r\n", Options{}, nil)
		if _, err := r.ReadCommand(); err == nil {
			t.Errorf("%q: read", in)
		}
	}
}

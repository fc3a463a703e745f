package sieve

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Delivery-side stand-ins: a set of mailboxes, a duplicate store and a
// script directory, as the store will implement them.
type mailboxSet map[string]bool

func (m mailboxSet) MailboxExists(_ context.Context, name string) (bool, error) {
	return m[name], nil
}

type dupStore map[string]bool

func (d dupStore) Seen(_ context.Context, key string) (bool, error) { return d[key], nil }

type scriptDir map[string]string

func (s scriptDir) LoadScript(_ context.Context, global bool, name string) ([]byte, error) {
	k := "personal/" + name
	if global {
		k = "global/" + name
	}
	src, ok := s[k]
	if !ok {
		return nil, fmt.Errorf("load %s: %w", k, ErrNoScript)
	}
	return []byte(src), nil
}

// render writes actions compactly for comparison.
func render(res *Result) string {
	var parts []string
	for _, a := range res.Actions {
		switch x := a.(type) {
		case Keep:
			s := "keep"
			if x.Implicit {
				s = "implicit-keep"
			}
			if len(x.Flags) > 0 {
				s += " flags=" + strings.Join(x.Flags, ",")
			}
			parts = append(parts, s)
		case FileInto:
			s := "fileinto " + x.Mailbox
			if len(x.Flags) > 0 {
				s += " flags=" + strings.Join(x.Flags, ",")
			}
			if x.Copy {
				s += " copy"
			}
			if x.Create {
				s += " create"
			}
			parts = append(parts, s)
		case Redirect:
			s := "redirect " + x.Address
			if x.Copy {
				s += " copy"
			}
			parts = append(parts, s)
		case Discard:
			parts = append(parts, "discard")
		case Reject:
			s := "reject "
			if x.Extended {
				s = "ereject "
			}
			parts = append(parts, s+x.Reason)
		case Vacation:
			s := fmt.Sprintf("vacation to=%s period=%s subject=%q from=%q mime=%v reason=%q", x.To, x.Period, x.Subject, x.From, x.MIME, x.Reason)
			if x.Suppress != "" {
				s += " suppress=" + x.Suppress
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

const baseMsg = "Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n" +
	"From: coyote@desert.example.org\r\n" +
	"To: roadrunner@acme.example.com\r\n" +
	"Subject: I have a present for you\r\n" +
	"Message-ID: <abc@desert.example.org>\r\n" +
	"X-Caffeine: C8H10N4O2\r\n" +
	"\r\n" +
	"Look, I'm sorry about the whole anvil thing, and I really\r\n" +
	"didn't mean to try and drop it on you from the top of the\r\n" +
	"cliff.  I want to try to make it up to you.  I've got some\r\n" +
	"great birdseed over here at my place--top of the line\r\n" +
	"stuff--and if you come by, I'll have it all wrapped\r\n" +
	"up for you.  I'm really sorry for all the problems I've\r\n" +
	"caused for you over the years, but I know we can work\r\n" +
	"this out.\r\n" +
	"--\r\n" +
	"Wile E. Coyote   \"Super Genius\"   coyote@desert.example.org\r\n"

type runCase struct {
	name   string
	script string
	msg    string // "" for baseMsg
	in     func(*Input)
	want   string // rendered actions, or
	err    string // a substring of the run-time error
}

func runCases(t *testing.T, cases []runCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Compile([]byte(c.script), Options{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			msg := c.msg
			if msg == "" {
				msg = baseMsg
			}
			in := Input{
				Message:  NewMessage([]byte(msg)),
				Envelope: Envelope{From: "coyote@desert.example.org", To: "roadrunner@acme.example.com"},
				Now:      time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC),
			}
			if c.in != nil {
				c.in(&in)
			}
			res, err := s.Run(context.Background(), in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if got := render(res); got != c.want {
				t.Errorf("actions\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestBase covers RFC 5228's commands, tests and implicit keep.
func TestBase(t *testing.T) {
	runCases(t, []runCase{
		{name: "empty script keeps", script: "", want: "implicit-keep"},
		{name: "discard cancels keep (§2.10.2)", script: "discard;", want: "discard"},
		{name: "keep then discard", script: "keep; discard;", want: "keep; discard"},
		{name: "redirect cancels keep (§4.2)", script: `redirect "bart@example.com";`, want: "redirect bart@example.com"},
		{name: "redirect once per address (§2.10.3)", script: `redirect "a@example.com"; redirect "A@example.com";`, want: "redirect a@example.com"},
		{name: "stop keeps (§3.3)", script: "stop; discard;", want: "implicit-keep"},
		{name: "fileinto and keep INBOX once", script: `require "fileinto"; keep; fileinto "INBOX"; fileinto "a"; fileinto "a";`, want: "keep; fileinto a"},
		{name: "§9.1 example: company domain", script: rfcExample, msg: "From: boss@example.com\r\n\r\n", want: "keep"},
		{name: "§9.1 example: not to me", script: rfcExample, want: "fileinto spam"},
		{name: "§9.1 example: spam", script: rfcExample, msg: "From: x@other.example\r\nTo: y@other.example\r\nSubject: make lots of money fast\r\n\r\n", want: "fileinto spam"},
		{name: "§9.1 example: personal", script: rfcExample, msg: "From: x@other.example\r\nTo: me@example.com.au\r\nSubject: hi\r\n\r\n", want: "fileinto personal"},
		{name: "header :contains casemap", script: `if header :contains "subject" "PRESENT" { discard; }`, want: "discard"},
		{name: "header :is octet", script: `if header :is :comparator "i;octet" "subject" "i have a present for you" { discard; }`, want: "implicit-keep"},
		{name: "header :matches", script: `if header :matches "subject" "I have ? present*" { discard; }`, want: "discard"},
		{name: "header :matches escape", script: `if header :matches "x-a" "a\\*b" { discard; }`, msg: "X-A: a*b\r\n\r\n", want: "discard"},
		{name: "header :matches escape no wildcard", script: `if header :matches "x-a" "a\\*b" { discard; }`, msg: "X-A: axxb\r\n\r\n", want: "implicit-keep"},
		{name: "encoded word decoded (§2.7.2)", script: `if header :is "subject" "Grüße" { discard; }`, msg: "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\n", want: "discard"},
		{name: "exists all", script: `if exists ["from", "x-caffeine"] { discard; }`, want: "discard"},
		{name: "exists one missing", script: `if exists ["from", "x-nope"] { discard; }`, want: "implicit-keep"},
		{name: "size over", script: `if size :over 1 { discard; }`, want: "discard"},
		{name: "size under 1K", script: `if size :under 1K { discard; }`, want: "discard"},
		{name: "size not under 10", script: `if size :under 10 { discard; }`, want: "implicit-keep"},
		{name: "address :domain", script: `if address :domain :is "from" "DESERT.example.org" { discard; }`, want: "discard"},
		{name: "address :localpart", script: `if address :localpart :is "to" "roadrunner" { discard; }`, want: "discard"},
		{name: "address with display name", script: `if address :all :is "from" "a@b.example" { discard; }`, msg: "From: \"A, B\" <a@b.example>, c@d.example\r\n\r\n", want: "discard"},
		{name: "allof anyof not", script: `if allof (true, not false, anyof (false, true)) { discard; }`, want: "discard"},
		{name: "elsif chain", script: `if false { discard; } elsif true { keep; } else { discard; }`, want: "keep"},
		{name: "else", script: `if false { discard; } else { keep; }`, want: "keep"},
		{name: "anyof short-circuits", script: `require "fileinto"; if anyof (true, header :is "x" "y") { fileinto "a"; }`, want: "fileinto a"},
	})
}

const rfcExample = `require ["fileinto"];
if header :is "Sender" "owner-ietf-mta-filters@imc.org" { fileinto "filter"; }
elsif address :DOMAIN :is ["From", "To"] "example.com" { keep; }
elsif anyof (NOT address :all :contains ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject" ["*make*money*fast*", "*university*dipl*mas*"]) { fileinto "spam"; }
else { fileinto "personal"; }`

// TestEnvelope covers the envelope test (RFC 5228 §5.4) and subaddress
// (RFC 5233 §4).
func TestEnvelope(t *testing.T) {
	sub := func(in *Input) { in.Envelope.To = "ken+sieve@example.org"; in.Envelope.From = "" }
	runCases(t, []runCase{
		{name: "from", script: `require "envelope"; if envelope :domain "from" "desert.example.org" { discard; }`, want: "discard"},
		{name: "null sender is empty", script: `require "envelope"; if envelope :is "from" "" { discard; }`, in: sub, want: "discard"},
		{name: ":user", script: `require ["envelope", "subaddress"]; if envelope :user "to" "ken" { discard; }`, in: sub, want: "discard"},
		{name: ":detail", script: `require ["envelope", "subaddress"]; if envelope :detail "to" "sieve" { discard; }`, in: sub, want: "discard"},
		{name: ":detail absent matches nothing", script: `require ["envelope", "subaddress"]; if envelope :detail :matches "to" "*" { discard; }`, want: "implicit-keep"},
		{name: ":detail empty", script: `require ["subaddress"]; if address :detail "to" "" { discard; }`, msg: "To: ken+@example.org\r\n\r\n", want: "discard"},
		{name: "§4 example mta-filters", script: `require ["envelope", "subaddress", "fileinto"];
if envelope :user "to" "postmaster" { fileinto "inbox.postmaster"; stop; }
if envelope :detail "to" "mta-filters" { fileinto "inbox.ietf-mta-filters"; }`, in: func(in *Input) { in.Envelope.To = "ken+mta-filters@example.org" }, want: "fileinto inbox.ietf-mta-filters"},
		{name: "other separator", script: `require ["envelope", "subaddress"]; if envelope :detail "to" "x" { discard; }`, in: func(in *Input) { in.Envelope.To = "a-x@b.example"; in.Separator = "-" }, want: "discard"},
	})
}

// TestRelational covers RFC 5231 with i;ascii-numeric (RFC 4790 §9.1).
func TestRelational(t *testing.T) {
	msg := "To: a@x.example, b@x.example, c@x.example\r\nX-Priority: 2\r\nX-Num: abc\r\n\r\n"
	req := `require ["relational", "comparator-i;ascii-numeric", "fileinto"];`
	runCases(t, []runCase{
		{name: ":value lt numeric", script: req + `if header :value "lt" :comparator "i;ascii-numeric" "x-priority" "3" { fileinto "Priority"; }`, msg: msg, want: "fileinto Priority"},
		{name: "numeric is not lexical", script: req + `if header :value "gt" :comparator "i;ascii-numeric" "x-priority" "10" { discard; }`, msg: msg, want: "implicit-keep"},
		{name: "lexical would say gt", script: req + `if header :value "gt" :comparator "i;octet" "x-priority" "10" { discard; }`, msg: msg, want: "discard"},
		{name: "non-digit is infinity", script: req + `if header :value "gt" :comparator "i;ascii-numeric" "x-num" "99999999999999999999999" { discard; }`, msg: msg, want: "discard"},
		{name: ":count addresses", script: req + `if address :count "eq" :comparator "i;ascii-numeric" "to" "3" { discard; }`, msg: msg, want: "discard"},
		{name: ":count gt 5 fails", script: req + `if address :count "gt" :comparator "i;ascii-numeric" ["to"] ["5"] { fileinto "SPAM"; }`, msg: msg, want: "implicit-keep"},
		{name: ":value casemap", script: req + `if address :value "gt" :all :comparator "i;ascii-casemap" ["from"] ["M"] { fileinto "From N-Z"; }`, msg: "From: zed@x.example\r\n\r\n", want: "fileinto From N-Z"},
		{name: ":value ne", script: req + `if header :value "ne" "x-priority" "2" { discard; }`, msg: msg, want: "implicit-keep"},
	})
}

// TestFileintoCopyFlags covers fileinto, copy (RFC 3894), imap4flags
// (RFC 5232) and mailbox (RFC 5490).
func TestFileintoCopyFlags(t *testing.T) {
	runCases(t, []runCase{
		{name: "copy keeps implicit keep", script: `require ["copy", "fileinto"]; fileinto :copy "incoming"; redirect :copy "other@example.net";`, want: "fileinto incoming copy; redirect other@example.net copy; implicit-keep"},
		{name: "RFC 5232 §6 example", script: `require ["imap4flags", "fileinto"];
if header :contains "from" "coyote" { setflag "\\Flagged"; fileinto :flags "\\Seen" "INBOX.From Boss"; }`, want: "fileinto INBOX.From Boss flags=\\Seen"},
		{name: "implicit keep takes the internal flags", script: `require ["imap4flags", "fileinto", "copy"]; setflag "\\Flagged"; fileinto :copy "a";`, want: "fileinto a flags=\\Flagged copy; implicit-keep flags=\\Flagged"},
		{name: "internal variable at keep time", script: `require "imap4flags"; addflag "a b"; addflag "B c"; removeflag "a"; keep; setflag "z";`, want: "keep flags=b,c"},
		{name: "hasflag", script: `require "imap4flags"; addflag ["\\Seen", "$Work"]; if hasflag :is "$work" { discard; }`, want: "discard"},
		{name: "hasflag :count", script: `require ["imap4flags", "relational"]; setflag "a b c"; if hasflag :count "eq" "3" { discard; }`, want: "discard"},
		{name: "flags in a variable", script: `require ["imap4flags", "variables"]; setflag "v" "x"; addflag "v" "y"; if hasflag :is "v" "y" { keep :flags "${v}"; }`, want: "keep flags=x,y"},
		{name: "fileinto :create", script: `require ["fileinto", "mailbox"]; if mailboxexists "Partners" { fileinto "Partners"; } else { fileinto :create "Partners"; }`, in: func(in *Input) { in.Mailboxes = mailboxSet{} }, want: "fileinto Partners create"},
		{name: "mailboxexists", script: `require ["fileinto", "mailbox"]; if mailboxexists ["Partners", "INBOX"] { fileinto "Partners"; }`, in: func(in *Input) { in.Mailboxes = mailboxSet{"Partners": true, "INBOX": true} }, want: "fileinto Partners"},
		{name: "mailboxexists without access fails", script: `require "mailbox"; if mailboxexists "x" { discard; }`, err: "no mailbox access"},
	})
}

// TestReject covers reject and ereject (RFC 5429).
func TestReject(t *testing.T) {
	runCases(t, []runCase{
		{name: "reject", script: `require "reject"; reject "I am not taking mail from you.";`, want: "reject I am not taking mail from you."},
		{name: "ereject", script: `require "ereject"; if address "from" "coyote@desert.example.org" { ereject "I no longer accept mail from this address"; }`, want: "ereject I no longer accept mail from this address"},
		{name: "reject with keep fails", script: `require "reject"; keep; reject "no";`, err: "reject cannot be used with keep"},
		{name: "fileinto after reject fails", script: `require ["reject", "fileinto"]; reject "no"; fileinto "a";`, err: "fileinto cannot be used with reject"},
		{name: "reject with vacation fails", script: `require ["reject", "vacation"]; vacation "away"; reject "no";`, err: "reject cannot be used"},
		{name: "reject with discard", script: `require "reject"; discard; reject "no";`, want: "discard; reject no"},
	})
}

// TestVariables covers RFC 5229 with its own examples.
func TestVariables(t *testing.T) {
	req := `require ["fileinto", "variables"];`
	runCases(t, []runCase{
		{name: "§3.2 List-ID", script: req + `if header :matches "List-ID" "*<*@*" { fileinto "INBOX.lists.${2}"; stop; }`, msg: "List-ID: Sieve list <sieve@ietf.org>\r\n\r\n", want: "fileinto INBOX.lists.sieve"},
		{name: "§3.2 subject shortest", script: req + `if header :matches "Subject" "[*] *" { fileinto "INBOX.lists.${1}"; set "rest" "${2}"; if string :is "${rest}" "[fwd] version 1.0 is out" { discard; } }`, msg: "Subject: [acme-users] [fwd] version 1.0 is out\r\n\r\n", want: "fileinto INBOX.lists.acme-users; discard"},
		{name: "§3.2 double star", script: req + `if address :matches ["To", "Cc"] ["coyote@**.com", "wile@**.com"] { fileinto "INBOX.business.${2}"; fileinto "${0}|${1}"; }`, msg: "To: coyote@ACME.Example.COM\r\n\r\n", want: "fileinto INBOX.business.ACME.Example; fileinto coyote@ACME.Example.COM|"},
		{name: "§4 set and text", script: req + `set "honorific" "Mr"; set "last_name" "Coyote"; set "v" text:
Dear ${HONORIFIC} ${last_name},
.
;
if string :is "${v}" "Dear Mr Coyote,${unicode:0}" { discard; } fileinto "${v}";`, want: "fileinto Dear Mr Coyote,\r\n"},
		{name: "§4.1 modifiers", script: req + `set "a" "juMBlEd lETteRS"; set :length "b" "${a}"; set :lower "c" "${a}"; set :upperfirst "d" "${c}"; set :upperfirst :lower "e" "${a}"; set :quotewildcard "f" "Rock*"; fileinto "${b}|${c}|${d}|${e}|${f}";`, want: `fileinto 15|jumbled letters|Jumbled letters|Jumbled letters|Rock\*`},
		{name: "unknown variable is empty", script: req + `fileinto "a${nope}b";`, want: "fileinto ab"},
		{name: "not a reference stays", script: req + `fileinto "${a-b}${";`, want: "fileinto ${a-b}${"},
		{name: "string :count non-empty", script: req + `require "relational"; set "x" ""; if string :count "eq" ["${x}", "a", "b"] "2" { discard; }`, want: "discard"},
		{name: "variable size bound", script: req + `set "a" "0123456789"; set "a" "${a}${a}${a}${a}${a}${a}${a}${a}"; set "a" "${a}${a}${a}${a}${a}${a}${a}${a}"; set "a" "${a}${a}${a}${a}${a}${a}${a}${a}"; set "a" "${a}${a}${a}${a}${a}${a}${a}${a}"; set "a" "${a}${a}${a}${a}${a}${a}${a}${a}";`, err: "longer than 65536 bytes"},
		{name: "without variables no expansion", script: `require "fileinto"; fileinto "${x}";`, want: "fileinto ${x}"},
	})
}

// TestBody covers RFC 5173.
func TestBody(t *testing.T) {
	mp := "From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"preamble\r\n--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nthe missile caf=E9\r\n" +
		"--XX\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+Y29vcmRpbmF0ZXM8L2I+\r\n" +
		"--XX\r\nContent-Type: application/octet-stream\r\n\r\nMAKE MONEY FAST\r\n--XX--\r\n"
	req := `require ["body", "fileinto"];`
	runCases(t, []runCase{
		{name: "§7 example :content text", script: req + `if body :content "text" :contains ["missile", "coordinates"] { fileinto "secrets"; }`, msg: mp, want: "fileinto secrets"},
		{name: "decoded base64 html", script: req + `if body :content "text/html" :contains "<b>coordinates" { discard; }`, msg: mp, want: "discard"},
		{name: "decoded qp latin1", script: req + `if body :text :contains "café" { discard; }`, msg: mp, want: "discard"},
		{name: ":text skips application", script: req + `if body :contains "MAKE MONEY" { discard; }`, msg: mp, want: "implicit-keep"},
		{name: ":raw sees all", script: req + `if body :raw :contains "MAKE MONEY FAST" { discard; }`, msg: mp, want: "discard"},
		{name: ":raw is undecoded", script: req + `if body :raw :contains "coordinates" { discard; }`, msg: mp, want: "implicit-keep"},
		{name: "plain message", script: req + `if body :contains "birdseed" { discard; }`, want: "discard"},
		{name: ":content empty is every type", script: req + `if body :content "" :contains "MONEY" { discard; }`, msg: mp, want: "discard"},
	})
}

// TestDateIndex covers RFC 5260.
func TestDateIndex(t *testing.T) {
	req := `require ["date", "relational", "fileinto", "index", "variables"];`
	msg := "Received: from a by b; Sun, 6 Dec 2026 23:30:00 +0000\r\nReceived: from c by d; Mon, 7 Dec 2026 10:00:00 +0000\r\n" +
		"Date: Mon, 7 Dec 2026 10:15:00 -0800\r\nFrom: boss@example.com\r\n\r\n"
	runCases(t, []runCase{
		{name: "§4.3 working hours originalzone", script: req + `if allof(header :is "from" "boss@example.com", date :value "ge" :originalzone "date" "hour" "09", date :value "lt" :originalzone "date" "hour" "17") { fileinto "urgent"; }`, msg: msg, want: "fileinto urgent"},
		{name: "converted to UTC", script: req + `if date :is "date" "hour" "18" { discard; }`, msg: msg, want: "discard"},
		{name: ":zone", script: req + `if date :zone "+0100" :is "date" "time" "19:15:00" { discard; }`, msg: msg, want: "discard"},
		{name: "parts", script: req + `if date :matches :originalzone "date" "std11" "*" { fileinto "${1}"; } if date :matches "date" "iso8601" "*" { fileinto "${1}"; } if date :matches "date" "julian" "*" { fileinto "${1}"; } if date :matches "date" "weekday" "*" { fileinto "${1}"; } if date :matches :originalzone "date" "zone" "*" { fileinto "${1}"; }`, msg: msg,
			want: "fileinto Mon, 07 Dec 2026 10:15:00 -0800; fileinto 2026-12-07T18:15:00+00:00; fileinto 61381; fileinto 1; fileinto -0800"},
		{name: "received last date :index 1 :last", script: req + `if date :index 1 :last "received" "date" "2026-12-07" { discard; }`, msg: msg, want: "discard"},
		{name: "received first", script: req + `if date :index 1 "received" "date" "2026-12-06" { discard; }`, msg: msg, want: "discard"},
		{name: "header :index 2", script: req + `if header :index 2 :contains "received" "from c" { discard; }`, msg: msg, want: "discard"},
		{name: "index past the end", script: req + `if header :index 3 :matches "received" "*" { discard; }`, msg: msg, want: "implicit-keep"},
		{name: "currentdate", script: req + `if currentdate :value "ge" "date" "2026-12-01" { if currentdate :zone "-1300" :is "date" "2026-12-06" { discard; } }`, msg: msg, want: "discard"},
		{name: "no date no match", script: req + `if date :matches "x-none" "date" "*" { discard; }`, msg: msg, want: "implicit-keep"},
		{name: "default location", script: req + `if date :is "date" "hour" "19" { discard; }`, msg: msg, in: func(in *Input) { in.Location = time.FixedZone("CET", 3600) }, want: "discard"},
	})
}

// TestRegex covers draft-ietf-sieve-regex on RE2.
func TestRegex(t *testing.T) {
	req := `require ["regex", "variables", "fileinto"];`
	runCases(t, []runCase{
		{name: "groups", script: req + `if header :regex "subject" "^\\[([a-z-]+)\\] (.*)$" { fileinto "${1}/${2}"; }`, msg: "Subject: [acme-users] hello\r\n\r\n", want: "fileinto acme-users/hello"},
		{name: "casemap folds case", script: req + `if header :regex "subject" "ACME" { discard; }`, msg: "Subject: acme\r\n\r\n", want: "discard"},
		{name: "octet keeps case", script: req + `if header :regex :comparator "i;octet" "subject" "ACME" { discard; }`, msg: "Subject: acme\r\n\r\n", want: "implicit-keep"},
		{name: "quoteregex", script: req + `set :quoteregex "q" "a.b"; if header :regex "subject" "^${q}$" { discard; }`, msg: "Subject: axb\r\n\r\n", want: "implicit-keep"},
		{name: "run-time bad regex", script: req + `set "q" "(a)\\1"; if header :regex "subject" "${q}" { discard; }`, err: "backreference"},
	})
}

// TestVacation covers RFC 5230 and vacation-seconds (RFC 6131).
func TestVacation(t *testing.T) {
	runCases(t, []runCase{
		{name: "§4 defaults, keep stands", script: `require "vacation"; vacation "I'm away";`, want: `vacation to=coyote@desert.example.org period=168h0m0s subject="" from="" mime=false reason="I'm away"; implicit-keep`},
		{name: "§4.1 days and subject with variable", script: `require ["vacation", "variables"]; if header :matches "subject" "*" { vacation :days 3 :subject "Automatic response to: ${1}" :from "hemberger@example.com" "I'm away"; }`,
			want: `vacation to=coyote@desert.example.org period=72h0m0s subject="Automatic response to: I have a present for you" from="hemberger@example.com" mime=false reason="I'm away"; implicit-keep`},
		{name: "days 0 raised to 1", script: `require "vacation"; vacation :days 0 "x";`, want: `vacation to=coyote@desert.example.org period=24h0m0s subject="" from="" mime=false reason="x"; implicit-keep`},
		{name: "seconds", script: `require "vacation-seconds"; vacation :seconds 1800 :mime text:
Content-Type: text/plain

busy
.
;`, want: `vacation to=coyote@desert.example.org period=30m0s subject="" from="" mime=true reason="Content-Type: text/plain\r\n\r\nbusy\r\n"; implicit-keep`},
		{name: "twice fails", script: `require "vacation"; vacation "a"; vacation "b";`, err: "vacation used twice"},
		{name: "null sender suppressed", script: `require "vacation"; vacation "x";`, in: func(in *Input) { in.Envelope.From = "" }, want: `vacation to= period=168h0m0s subject="" from="" mime=false reason="x" suppress=null envelope sender (RFC 5230 §5); implicit-keep`},
		{name: "list suppressed", script: `require "vacation"; vacation "x";`, msg: "From: a@b.example\r\nTo: roadrunner@acme.example.com\r\nList-Id: <l.example>\r\n\r\n",
			want: `vacation to=coyote@desert.example.org period=168h0m0s subject="" from="" mime=false reason="x" suppress=message is from a mailing list (list-id, RFC 5230 §4.6); implicit-keep`},
		{name: "bulk suppressed", script: `require "vacation"; vacation "x";`, msg: "From: a@b.example\r\nTo: roadrunner@acme.example.com\r\nPrecedence: bulk\r\n\r\n",
			want: `vacation to=coyote@desert.example.org period=168h0m0s subject="" from="" mime=false reason="x" suppress=message has Precedence: bulk (RFC 3834 §2); implicit-keep`},
		{name: "auto-submitted suppressed", script: `require "vacation"; vacation "x";`, msg: "To: roadrunner@acme.example.com\r\nAuto-Submitted: auto-replied\r\n\r\n",
			want: `vacation to=coyote@desert.example.org period=168h0m0s subject="" from="" mime=false reason="x" suppress=message is Auto-Submitted: auto-replied (RFC 3834 §2); implicit-keep`},
		{name: "not addressed to me", script: `require "vacation"; vacation "x";`, msg: "To: other@example.com\r\n\r\n",
			want: `vacation to=coyote@desert.example.org period=168h0m0s subject="" from="" mime=false reason="x" suppress=the user's address is in no recipient field (RFC 5230 §4.5); implicit-keep`},
		{name: ":addresses counts as mine", script: `require "vacation"; vacation :addresses "other@example.com" "x";`, msg: "Cc: Other <other@example.com>\r\n\r\n",
			want: `vacation to=coyote@desert.example.org period=168h0m0s subject="" from="" mime=false reason="x"; implicit-keep`},
	})
}

// TestSpamVirus covers spamtest, spamtestplus and virustest (RFC 5235)
// with §3.4's example.
func TestSpamVirus(t *testing.T) {
	script := `require ["spamtestplus", "fileinto", "relational", "comparator-i;ascii-numeric", "virustest"];
if virustest :value "eq" :comparator "i;ascii-numeric" "5" { discard; stop; }
if spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "INBOX.unclassified"; }
elsif spamtest :percent :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "INBOX.not-spam"; }
elsif spamtest :percent :value "lt" :comparator "i;ascii-numeric" "37" { fileinto "INBOX.spam-trap"; }
else { fileinto "INBOX.spam"; }`
	v := func(vd Verdict) func(*Input) { return func(in *Input) { in.Verdict = vd } }
	runCases(t, []runCase{
		{name: "untested", script: script, want: "fileinto INBOX.unclassified"},
		{name: "not spam", script: script, in: v(Verdict{SpamTested: true, SpamScore: 1, SpamPercent: 0}), want: "fileinto INBOX.not-spam"},
		{name: "trap", script: script, in: v(Verdict{SpamTested: true, SpamScore: 3, SpamPercent: 20}), want: "fileinto INBOX.spam-trap"},
		{name: "spam", script: script, in: v(Verdict{SpamTested: true, SpamScore: 9, SpamPercent: 90}), want: "fileinto INBOX.spam"},
		{name: "virus", script: script, in: v(Verdict{VirusTested: true, Virus: 5}), want: "discard"},
		{name: "spamtest score", script: `require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"]; if spamtest :value "ge" :comparator "i;ascii-numeric" "6" { fileinto "Junk"; }`, in: v(Verdict{SpamTested: true, SpamScore: 10}), want: "fileinto Junk"},
	})
}

// TestDuplicate covers RFC 7352.
func TestDuplicate(t *testing.T) {
	seen := dupStore{digest("", "abc@desert.example.org"): true}
	ds := func(in *Input) { in.Duplicates = seen }
	runCases(t, []runCase{
		{name: "seen message-id", script: `require "duplicate"; if duplicate { discard; }`, in: ds, want: "discard"},
		{name: "new message-id", script: `require "duplicate"; if duplicate { discard; }`, in: func(in *Input) { in.Duplicates = dupStore{} }, want: "implicit-keep"},
		{name: "uniqueid with handle", script: `require ["duplicate", "variables"]; if header :matches "subject" "I have *" { if duplicate :handle "h" :uniqueid "${1}" { discard; } }`,
			in: func(in *Input) { in.Duplicates = dupStore{digest("h", "a present for you"): true} }, want: "discard"},
		{name: "no store fails", script: `require "duplicate"; if duplicate { discard; }`, err: "no duplicate store"},
	})
	// The marks to record: new IDs, and seen ones under :last.
	s, err := Compile([]byte(`require "duplicate"; if duplicate :seconds 60 { discard; } if duplicate :header "x-caffeine" :last { discard; }`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), Input{Message: NewMessage([]byte(baseMsg)), Duplicates: seen})
	if err != nil {
		t.Fatal(err)
	}
	want := []DuplicateMark{{Key: digest("", "C8H10N4O2"), Expiry: 7 * 24 * time.Hour, Refresh: true}}
	if fmt.Sprint(res.Duplicates) != fmt.Sprint(want) {
		t.Errorf("marks %v, want %v", res.Duplicates, want)
	}
}

// TestInclude covers RFC 6609: personal and global scripts, :once,
// :optional, return, global variables, and loops refused.
func TestInclude(t *testing.T) {
	dir := scriptDir{
		"personal/lib":  `require ["include", "variables", "fileinto"]; global "who"; fileinto "from-${who}"; return; discard;`,
		"global/spam":   `require "fileinto"; fileinto "Junk";`,
		"personal/loop": `require "include"; include "loop";`,
		"personal/bad":  `frob;`,
	}
	in := func(in *Input) { in.Scripts = dir }
	runCases(t, []runCase{
		{name: "global variable and return", script: `require ["include", "variables"]; global "who"; set "who" "me"; include "lib";`, in: in, want: "fileinto from-me"},
		{name: "global location and :once", script: `require "include"; include :global :once "spam"; include :global :once "spam"; keep;`, in: in, want: "fileinto Junk; keep"},
		{name: "optional missing", script: `require "include"; include :optional "none"; discard;`, in: in, want: "discard"},
		{name: "missing fails", script: `require "include"; include "none";`, in: in, err: "cannot load none"},
		{name: "loop refused", script: `require "include"; include "loop";`, in: in, err: "includes itself"},
		{name: "included script does not compile", script: `require "include"; include "bad";`, in: in, err: "bad does not compile"},
		{name: "error inside names the script", script: `require "include"; include "deep";`, in: func(in *Input) {
			in.Scripts = scriptDir{"personal/deep": `redirect "a@x.example"; redirect "b@x.example"; redirect "c@x.example"; redirect "d@x.example"; redirect "e@x.example";`}
		}, err: "line 1, column 97 of included personal:deep: more than 4 redirects"},
		{name: "stop in included stops all", script: `require ["include", "fileinto"]; include :global "spam"; stop; discard;`, in: in, want: "fileinto Junk"},
	})
}

// TestEncodedCharacter covers RFC 5228 §2.4.2.4.
func TestEncodedCharacter(t *testing.T) {
	runCases(t, []runCase{
		{name: "hex and unicode", script: `require ["encoded-character", "fileinto"]; if header :contains "Subject" "$${hex:24 24}" { discard; } fileinto "${unicode:48 49}${hex:4a}";`, msg: "Subject: pay $$$\r\n\r\n", want: "discard; fileinto HIJ"},
		{name: "malformed stays", script: `require ["encoded-character", "fileinto"]; fileinto "${hex:zz}";`, want: "fileinto ${hex:zz}"},
		{name: "not required: literal", script: `require "fileinto"; fileinto "${hex:41}";`, want: "fileinto ${hex:41}"},
	})
}

// TestRunLimits checks the run-time bounds end the run with an error.
func TestRunLimits(t *testing.T) {
	many := `redirect "a@x.example"; redirect "b@x.example"; redirect "c@x.example"; redirect "d@x.example"; redirect "e@x.example";`
	runCases(t, []runCase{
		{name: "redirects", script: many, err: "more than 4 redirects"},
		{name: "actions", script: `require ["fileinto"]; ` + strings.Repeat(`fileinto "a"; fileinto "b"; `, 1) + func() string {
			var b strings.Builder
			for i := 0; i < 70; i++ {
				fmt.Fprintf(&b, `fileinto "f%d"; `, i)
			}
			return b.String()
		}(), err: "more than 64 actions"},
	})
	// Steps: a costly :matches pattern is stopped by the budget.
	s, err := Compile([]byte(`if header :matches "subject" "*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" { discard; }`), Options{Limits: Limits{MaxSteps: 2000}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(context.Background(), Input{Message: NewMessage([]byte("Subject: " + strings.Repeat("a", 3000) + "\r\n\r\n"))})
	if err == nil || !strings.Contains(err.Error(), "more than 2000 steps") {
		t.Errorf("steps: error %v", err)
	}
	// A cancelled context ends the run too.
	s, _ = Compile([]byte(strings.Repeat("if true { keep; } ", 3000)), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, Input{Message: NewMessage([]byte(baseMsg))}); err == nil {
		t.Error("cancelled context: no error")
	}
}

// TestLinearCost checks that strings full of "${" (variables and
// encoded-character) and flag lists of thousands of flags cost linear
// time: each would take minutes if scanned quadratically.
func TestLinearCost(t *testing.T) {
	junk := strings.Repeat("${", 120000)
	flags := strings.Repeat("f", 1)
	var fb strings.Builder
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&fb, "%s%d ", flags, i)
	}
	src := `require ["variables", "encoded-character", "imap4flags"]; set "a" "` + junk + `"; set "f" "` + fb.String() + `"; addflag "f" "${f}"; removeflag "f" "${f}";`
	start := time.Now()
	s, err := Compile([]byte(src), Options{Limits: Limits{MaxVariableBytes: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), Input{Message: NewMessage([]byte(baseMsg))}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

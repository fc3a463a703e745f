package imapsort

import (
	"cmp"
	"slices"
	"time"
)

// Message is what sorting and threading know of one message, taken from
// the summary kept at delivery.
type Message struct {
	// Num names the message in the answer: its sequence number or its
	// UID. Either orders messages as the mailbox does, which is the last
	// tie-break of every order (RFC 5256 §2.2, §3).
	Num uint32
	// Arrival is the internal date (ARRIVAL, and the sent date when Date
	// is zero).
	Arrival time.Time
	// Date is the Date header field's date and time, zero when it is
	// missing or does not parse (RFC 5256 §2.2).
	Date time.Time
	// Size is RFC822.SIZE.
	Size int64
	// Subject is the Subject field, decoded from RFC 2047.
	Subject string
	// From, To and Cc are the addr-mailbox of the first address of
	// each field as the ENVELOPE has it (RFC 5256 §3), "" when none.
	From, To, Cc string
	// DisplayFrom and DisplayTo are RFC 5957 §3's keys: the display name
	// of the first From or To address, decoded, or its
	// addr-mailbox@addr-host when it has none.
	DisplayFrom, DisplayTo string
	// MessageID, References and InReplyTo are the message identifiers
	// without angle brackets (REFERENCES threading, RFC 5256 §3).
	MessageID  string
	References []string
	InReplyTo  []string
}

// Sent is the message's sent date (RFC 5256 §2.2): its Date field, or its
// internal date when the field is missing or does not parse.
func (m *Message) Sent() time.Time {
	if m.Date.IsZero() {
		return m.Arrival
	}
	return m.Date
}

// Key is a SORT key (RFC 5256 §3, RFC 5957 §3).
type Key string

// The sort keys.
const (
	Arrival     Key = "ARRIVAL"     // internal date and time
	Cc          Key = "CC"          // addr-mailbox of the first Cc address
	Date        Key = "DATE"        // sent date and time (§2.2)
	From        Key = "FROM"        // addr-mailbox of the first From address
	Size        Key = "SIZE"        // RFC822.SIZE
	Subject     Key = "SUBJECT"     // base subject (§2.1)
	To          Key = "TO"          // addr-mailbox of the first To address
	DisplayFrom Key = "DISPLAYFROM" // RFC 5957 §3
	DisplayTo   Key = "DISPLAYTO"   // RFC 5957 §3
)

// Criterion is one sort key and whether its order is reversed (REVERSE).
type Criterion struct {
	Key     Key
	Reverse bool
}

// Sort returns the Nums of msgs in the order of the criteria (RFC 5256
// §3): by the first criterion, messages it finds equal by the next, and
// so on; messages equal by all of them in mailbox order. Strings are
// compared with i;unicode-casemap (Fold). msgs is not changed.
func Sort(msgs []Message, criteria []Criterion) []uint32 {
	// Each message's keys are computed once, into flat tables: message
	// i's string keys are strs[i*ns:], its times times[i*nt:], its sizes
	// sizes[i*nz:].
	var ns, nt, nz int
	for _, c := range criteria {
		switch c.Key {
		case Arrival, Date:
			nt++
		case Size:
			nz++
		default:
			ns++
		}
	}
	n := len(msgs)
	strs, times, sizes := make([]string, n*ns), make([]time.Time, n*nt), make([]int64, n*nz)
	for i := range msgs {
		m := &msgs[i]
		si, ti, zi := i*ns, i*nt, i*nz
		for _, c := range criteria {
			switch c.Key {
			case Arrival:
				times[ti], ti = m.Arrival, ti+1
			case Date:
				times[ti], ti = m.Sent(), ti+1
			case Size:
				sizes[zi], zi = m.Size, zi+1
			default:
				strs[si], si = stringKey(m, c.Key), si+1
			}
		}
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		si, ti, zi := int(a)*ns, int(a)*nt, int(a)*nz
		sj, tj, zj := int(b)*ns, int(b)*nt, int(b)*nz
		for _, c := range criteria {
			var r int
			switch c.Key {
			case Arrival, Date:
				r = times[ti].Compare(times[tj])
				ti, tj = ti+1, tj+1
			case Size:
				r = cmp.Compare(sizes[zi], sizes[zj])
				zi, zj = zi+1, zj+1
			default:
				r = cmp.Compare(strs[si], strs[sj])
				si, sj = si+1, sj+1
			}
			if c.Reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Compare(msgs[a].Num, msgs[b].Num)
	})
	out := make([]uint32, n)
	for i, k := range order {
		out[i] = msgs[k].Num
	}
	return out
}

// stringKey is a message's folded string for a string sort key.
func stringKey(m *Message, k Key) string {
	switch k {
	case Subject:
		base, _ := BaseSubject(m.Subject)
		return Fold(base)
	case From:
		return Fold(m.From)
	case To:
		return Fold(m.To)
	case Cc:
		return Fold(m.Cc)
	case DisplayFrom:
		return Fold(m.DisplayFrom)
	case DisplayTo:
		return Fold(m.DisplayTo)
	}
	return ""
}

package imapsort

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// day is 1 January 2026 plus n days, at noon UTC.
func day(n int) time.Time { return time.Date(2026, 1, 1+n, 12, 0, 0, 0, time.UTC) }

// sortFixture: four messages whose orders under each key were worked out
// by hand (see the comments in TestSort).
var sortFixture = []Message{
	{Num: 1, Arrival: day(3), Date: day(2), Size: 300, Subject: "Re: beta", From: "carol", To: "x", DisplayFrom: "Carol"},
	{Num: 2, Arrival: day(1), Date: day(5), Size: 100, Subject: "alpha", From: "Bob", To: "y", Cc: "z", DisplayFrom: "bob@b.org"},
	{Num: 3, Arrival: day(2), Size: 200, Subject: "Beta", From: "alice", To: "x", Cc: "a", DisplayFrom: "Alice Zed"},
	{Num: 4, Arrival: day(4), Date: day(1), Size: 100, Subject: "[fwd: alpha]", From: "bob", DisplayFrom: "Bob"},
}

// TestSort checks each key of RFC 5256 §3 and RFC 5957, REVERSE, several
// criteria, and the mailbox-order tie-break.
func TestSort(t *testing.T) {
	for _, c := range []struct {
		criteria []Criterion
		want     []uint32
	}{
		{[]Criterion{{Key: Arrival}}, []uint32{2, 3, 1, 4}},
		// Sent dates: 4 day 1; 1 day 2; 3 has no Date, so its arrival,
		// day 2, a tie with 1 broken by mailbox order; 2 day 5.
		{[]Criterion{{Key: Date}}, []uint32{4, 1, 3, 2}},
		{[]Criterion{{Key: Date, Reverse: true}}, []uint32{2, 1, 3, 4}},
		{[]Criterion{{Key: Size}}, []uint32{2, 4, 3, 1}},
		// Base subjects: beta, alpha, Beta, alpha.
		{[]Criterion{{Key: Subject}}, []uint32{2, 4, 1, 3}},
		{[]Criterion{{Key: Subject, Reverse: true}}, []uint32{1, 3, 2, 4}},
		{[]Criterion{{Key: Subject}, {Key: Date}}, []uint32{4, 2, 1, 3}},
		{[]Criterion{{Key: From}}, []uint32{3, 2, 4, 1}},
		{[]Criterion{{Key: To}}, []uint32{4, 1, 3, 2}},
		{[]Criterion{{Key: Cc}}, []uint32{1, 4, 3, 2}},
		{[]Criterion{{Key: DisplayFrom}}, []uint32{3, 4, 2, 1}},
		{[]Criterion{{Key: Size, Reverse: true}, {Key: From}}, []uint32{1, 3, 2, 4}},
	} {
		if got := Sort(sortFixture, c.criteria); !slices.Equal(got, c.want) {
			t.Errorf("Sort %v = %v, want %v", c.criteria, got, c.want)
		}
	}
}

// threads renders threads as a THREAD response has them (RFC 5256 §4).
func threads(ns []Node) string {
	var b []byte
	for _, n := range ns {
		b = append(b, '(')
		b = appendNode(b, n)
		b = append(b, ')')
	}
	return string(b)
}

func appendNode(b []byte, n Node) []byte {
	sep := false
	for {
		if n.Num != 0 {
			if sep {
				b = append(b, ' ')
			}
			b = strconv.AppendUint(b, uint64(n.Num), 10)
			sep = true
		}
		if len(n.Children) != 1 {
			break
		}
		n = n.Children[0]
	}
	if len(n.Children) > 1 {
		if sep {
			b = append(b, ' ')
		}
		for _, c := range n.Children {
			b = append(b, '(')
			b = appendNode(b, c)
			b = append(b, ')')
		}
	}
	return b
}

// at is 1 January 2026 plus d days and h hours, UTC.
func at(d, h int) time.Time { return time.Date(2026, 1, 1+d, h, 0, 0, 0, time.UTC) }

// TestOrderedSubject: groups by base subject (case folded, leaders and
// trailers off), the earliest the parent of the others; a message without
// Date sorts by its arrival; equal dates in mailbox order.
func TestOrderedSubject(t *testing.T) {
	msgs := []Message{
		{Num: 1, Subject: "Meeting", Date: at(0, 10)},
		{Num: 2, Subject: "Re: Meeting", Date: at(0, 11)},
		{Num: 3, Subject: "meeting", Date: at(0, 9)},
		{Num: 4, Subject: "Lunch", Date: at(1, 0)},
		{Num: 5, Subject: "[list] Re: Lunch (fwd)", Arrival: at(0, 8)},
		{Num: 6, Subject: "Other", Date: at(2, 0)},
		{Num: 7, Subject: "Meeting ", Date: at(0, 9)},
	}
	// LUNCH: 5 (day 0, 08h, its arrival), 4 (day 1). MEETING: 3 and 7
	// (09h, in mailbox order), 1, 2. OTHER: 6. Threads by their first
	// message's date: 5, 3, 6.
	want := "(5 4)(3 (7)(1)(2))(6)"
	if got := threads(OrderedSubject(msgs)); got != want {
		t.Errorf("ORDEREDSUBJECT = %s, want %s", got, want)
	}
	if got := threads(OrderedSubject(nil)); got != "" {
		t.Errorf("ORDEREDSUBJECT of nothing = %q", got)
	}
}

// TestReferences runs all six steps of RFC 5256 §3's REFERENCES on a
// fixture whose tree was worked out by hand:
//
//   - 1 "Meeting" (a) has replies 2 (refs a), 4 (refs a, earlier than 2),
//     3 (refs a b) under 2, 11 with a truncated References (c only)
//     under 3, and 19 whose References go through a missing w: the
//     dummy w is under 1, so it is pruned and 19 promoted (step 3);
//   - 5 and 6 reference a missing x: a dummy at the top with two
//     children stays; 13 has only In-Reply-To (e f), whose first id
//     makes it 5's child; 7 "Lunch" has no references and the thread
//     subject of x's first child (5) is "Lunch", so step 5 puts 7 under
//     the dummy;
//   - 8 and 9 reference each other: 8 goes under 9, and 9's link to 8
//     would make a loop; 8 has no Date and sorts by its arrival;
//   - 10 has 1's Message-ID: a duplicate, so it is a message of its own;
//   - 12 references itself;
//   - 14 "Re: Travel" and 15 "Travel", no references: step 5 makes the
//     reply 14 a child of 15 (the table keeps the non-reply);
//   - 16 and 17 "Party", neither a reply: step 5 puts both under a new
//     dummy;
//   - 18 references y z, both missing: z is pruned below y, then y, a
//     top-level dummy with one child, is replaced by 18.
//
// Top level by sent date: 10 (day -1), 1 (day 0), x by 5 (day 1), 9
// (day 3), 12, 15, the Party dummy by 16, 18.
func TestReferences(t *testing.T) {
	msgs := []Message{
		{Num: 1, Subject: "Meeting", MessageID: "a", Date: at(0, 10)},
		{Num: 2, Subject: "Re: Meeting", MessageID: "b", References: []string{"a"}, Date: at(0, 11)},
		{Num: 3, Subject: "Re: Meeting", MessageID: "c", References: []string{"a", "b"}, Date: at(0, 12)},
		{Num: 4, Subject: "Re: Meeting", MessageID: "d", References: []string{"a"}, Date: at(0, 10).Add(30 * time.Minute)},
		{Num: 5, Subject: "Lunch", MessageID: "e", References: []string{"x"}, Date: at(1, 9)},
		{Num: 6, Subject: "Re: Lunch", MessageID: "f", References: []string{"x"}, Date: at(1, 10)},
		{Num: 7, Subject: "Lunch", MessageID: "g", Date: at(2, 0)},
		{Num: 8, Subject: "Loop A", MessageID: "h", References: []string{"i"}, Arrival: at(4, 0)},
		{Num: 9, Subject: "Loop B", MessageID: "i", References: []string{"h"}, Date: at(3, 0)},
		{Num: 10, Subject: "Other", MessageID: "a", Date: at(-1, 0)},
		{Num: 11, Subject: "Re: Meeting", MessageID: "k", References: []string{"c"}, Date: at(0, 13)},
		{Num: 12, Subject: "Self", MessageID: "l", References: []string{"l"}, Date: at(5, 0)},
		{Num: 13, Subject: "Re: Lunch", MessageID: "m", InReplyTo: []string{"e", "f"}, Date: at(1, 12)},
		{Num: 14, Subject: "Re: Travel", MessageID: "n", Date: at(6, 0)},
		{Num: 15, Subject: "Travel", MessageID: "o", Date: at(7, 0)},
		{Num: 16, Subject: "Party", MessageID: "p", Date: at(8, 0)},
		{Num: 17, Subject: "Party", MessageID: "q", Date: at(9, 0)},
		{Num: 18, Subject: "Deep", MessageID: "r", References: []string{"y", "z"}, Date: at(10, 0)},
		{Num: 19, Subject: "Re: Meeting", MessageID: "s", References: []string{"a", "w"}, Date: at(0, 14)},
	}
	want := "(10)(1 (4)(2 3 11)(19))((5 13)(6)(7))(9 8)(12)(15 14)((16)(17))(18)"
	if got := threads(References(msgs)); got != want {
		t.Errorf("REFERENCES =\n %s\nwant\n %s", got, want)
	}
}

// TestReferencesReparent: step 1.B replaces the parent an earlier
// message's References gave a message with the one its own References
// name, and never links a message under its own descendant.
func TestReferencesReparent(t *testing.T) {
	msgs := []Message{
		{Num: 1, Subject: "one", MessageID: "a", Date: at(0, 0)},
		{Num: 2, Subject: "two", MessageID: "b", Date: at(1, 0)},
		{Num: 3, Subject: "three", MessageID: "x", References: []string{"a", "c"}, Date: at(3, 0)},
		{Num: 4, Subject: "four", MessageID: "c", References: []string{"b"}, Date: at(2, 0)},
	}
	// Processing 3: a→c puts 4 (c) under 1, and 3 under 4. Processing
	// 4: its parent 1 is broken for b, 2.
	want := "(1)(2 4 3)"
	if got := threads(References(msgs)); got != want {
		t.Errorf("REFERENCES = %s, want %s", got, want)
	}
	loop := []Message{
		{Num: 1, Subject: "p", MessageID: "a", References: []string{"c"}, Date: at(0, 0)},
		{Num: 2, Subject: "q", MessageID: "b", References: []string{"a"}, Date: at(0, 1)},
		{Num: 3, Subject: "r", MessageID: "c", References: []string{"b"}, Date: at(0, 2)},
	}
	// 1 under 3; 2 under 1; 3 under 2 would be a loop (2 descends from
	// 3), so 3 is the root.
	if got := threads(References(loop)); got != "(3 1 2)" {
		t.Errorf("REFERENCES of a loop = %s, want (3 1 2)", got)
	}
}

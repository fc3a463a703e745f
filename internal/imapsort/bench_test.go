package imapsort

import (
	"fmt"
	"testing"
	"time"
)

// benchMessages generates n messages in conversations of five, each
// reply with "Re: " and References to the ones before it, dates out of
// mailbox order.
func benchMessages(n int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		conv, k := i/5, i%5
		m := Message{Num: uint32(i + 1), MessageID: fmt.Sprintf("%d.%d@x", conv, k), Subject: fmt.Sprintf("topic %d", conv),
			Date: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration((i*7919)%n) * time.Minute),
			From: fmt.Sprintf("user%d", i%97), Size: int64(1000 + i%5000)}
		for j := range k {
			m.References = append(m.References, fmt.Sprintf("%d.%d@x", conv, j))
		}
		if k > 0 {
			m.Subject = "Re: " + m.Subject
		}
		msgs[i] = m
	}
	return msgs
}

// BenchmarkSort100k: SORT (SUBJECT DATE) of 100 000 messages, keys
// computed once per message.
func BenchmarkSort100k(b *testing.B) {
	msgs := benchMessages(100000)
	for b.Loop() {
		Sort(msgs, []Criterion{{Key: Subject}, {Key: Date}})
	}
}

// BenchmarkReferences100k: THREAD=REFERENCES of 100 000 messages.
func BenchmarkReferences100k(b *testing.B) {
	msgs := benchMessages(100000)
	for b.Loop() {
		References(msgs)
	}
}

// BenchmarkOrderedSubject100k: THREAD=ORDEREDSUBJECT of 100 000 messages.
func BenchmarkOrderedSubject100k(b *testing.B) {
	msgs := benchMessages(100000)
	for b.Loop() {
		OrderedSubject(msgs)
	}
}

// BenchmarkReferencesChain: THREAD=REFERENCES of one conversation of
// 100 000 messages, each In-Reply-To the one before.
func BenchmarkReferencesChain(b *testing.B) {
	msgs := make([]Message, 100000)
	for i := range msgs {
		msgs[i] = Message{Num: uint32(i + 1), MessageID: fmt.Sprint(i), Subject: "Re: chain", Date: time.Unix(int64(i), 0)}
		if i > 0 {
			msgs[i].InReplyTo = []string{fmt.Sprint(i - 1)}
		}
	}
	for b.Loop() {
		if n := References(msgs); len(n) != 1 {
			b.Fatalf("%d threads", len(n))
		}
	}
}

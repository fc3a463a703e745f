package imapmsg

// Wire is one FETCH item's value as sent: Plain for a session without
// UTF-8 (8-bit strings become literals), UTF8 for an IMAP4rev2 or
// UTF8=ACCEPT session (RFC 9051 §4.3, RFC 6855), empty when it is the
// same as Plain.
type Wire struct {
	Plain string
	UTF8  string `json:",omitempty"`
}

// For returns the form for a session that may or may not be sent UTF-8.
func (w *Wire) For(utf8OK bool) []byte {
	if utf8OK && w.UTF8 != "" {
		return []byte(w.UTF8)
	}
	return []byte(w.Plain)
}

func wire(f func(b []byte, utf8OK bool) []byte) *Wire {
	plain := f(nil, false)
	w := &Wire{Plain: string(plain)}
	// Only 8-bit strings are written differently with UTF-8, and they
	// show in the plain form (as literals): without one, it is the same.
	if !has8bit(plain) {
		return w
	}
	if u := f(nil, true); string(u) != w.Plain {
		w.UTF8 = string(u)
	}
	return w
}

// Described is the wire form of a message's ENVELOPE, BODYSTRUCTURE and
// BODY (the non-extensible structure), computed by the same code that
// answers FETCH from the file, so that a kept copy is byte for byte what
// FETCH would compute.
type Described struct {
	Envelope, BodyStructure, Body *Wire
}

// Describe computes the Described of a whole message.
func Describe(raw []byte) Described {
	root := Parse(raw)
	return Described{
		Envelope:      wire(Envelope(root.Header).AppendTo),
		BodyStructure: wire(func(b []byte, u bool) []byte { return AppendBodyStructure(b, root, true, u) }),
		Body:          wire(func(b []byte, u bool) []byte { return AppendBodyStructure(b, root, false, u) }),
	}
}

func has8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

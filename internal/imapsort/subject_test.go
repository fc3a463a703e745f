package imapsort

import "testing"

// TestBaseSubject checks RFC 5256 §2.1 on subjects worked through by
// hand, step by step.
func TestBaseSubject(t *testing.T) {
	for _, c := range []struct {
		in, base string
		reply    bool
	}{
		{"", "", false},
		{"hello", "hello", false},
		{"Re: hello", "hello", true},
		{"RE: Re: re:hello", "hello", true},
		{"Fwd: hello", "hello", true},
		{"FW: hello", "hello", true},
		{"fw : hello", "hello", true},          // *WSP before ":"
		{"Re[2]: hello", "hello", true},        // subj-blob inside subj-refwd
		{"Re [2]: hello", "hello", true},       // WSP then the blob
		{"[list] Re: hello", "hello", true},    // *subj-blob subj-refwd
		{"[list] hello", "hello", false},       // step 4
		{"[a] [b] hello", "hello", false},      // step 4, repeated by step 5
		{"[list]", "[list]", false},            // step 4 would leave nothing
		{"[list]   ", "[list]", false},         // trailing WSP, then as above
		{"hello (fwd)", "hello", true},         // step 2
		{"hello (FWD) (fwd)  ", "hello", true}, // step 2 repeated with WSP
		{"hello\t  world  ", "hello world", false},
		{"Re: [fwd: Re: x]", "x", true}, // steps 3, 6, then 3 again
		{"[fwd: hello]", "hello", true},
		{"[Fwd: [list] Re: x (fwd)]", "x", true},
		{"Referendum: results", "Referendum: results", false}, // "re" must be followed by ":"
		{"Re:", "", true},
		{"Re: Re: ", "", true},
		{"Ré: hello", "Ré: hello", false}, // only "re" in ASCII is a leader
		{"[fwd: x", "[fwd: x", false},     // no closing "]"
		{"[x] Fwd: [y]", "[y]", true},     // the last blob stays: nothing would be left
	} {
		base, reply := BaseSubject(c.in)
		if base != c.base || reply != c.reply {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", c.in, base, reply, c.base, c.reply)
		}
	}
}

// TestFold checks i;unicode-casemap (RFC 5051): case and compatibility
// forms compare equal, and the order is that of the folded octets.
func TestFold(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"hello", "HELLO"},
		{"Hello World", "hELLO wORLD"},
		{"Élan", "élan"},
		{"e\u0301lan", "élan"}, // decomposed and precomposed
		{"ｆｉｌｅ", "FILE"},       // full width: titlecase, then NFKD
		{"ǆ", "ǅ"},             // titlecase, not upper case: both become ǅ
	} {
		if Fold(c.a) != Fold(c.b) {
			t.Errorf("Fold(%q) = %q, Fold(%q) = %q; want equal", c.a, Fold(c.a), c.b, Fold(c.b))
		}
	}
	if !(Fold("apple") < Fold("Banana") && Fold("banana") < Fold("Cherry")) {
		t.Error("folded ASCII does not order case-insensitively")
	}
	if Fold("a") == Fold("b") {
		t.Error("different letters fold equal")
	}
}

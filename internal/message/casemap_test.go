package message

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TestCasemap checks i;unicode-casemap (RFC 5051 §2) on what SEARCH at
// I18NLEVEL=1 must find: needle matches text when Casemap(needle) is a
// substring of Casemap(text).
func TestCasemap(t *testing.T) {
	for _, c := range []struct {
		needle, text string
		match        bool
	}{
		{"cafe", "Café", true},           // é decomposes to E U+0301
		{"CAFÉ", "cafe\u0301", true},     // precomposed and decomposed
		{"café", "cafe", false},          // the accent is not dropped
		{"fi", "ﬁle", true},              // the ligature decomposes, then titlecases
		{"FILE", "ｆｉｌｅ", true},           // full width
		{"kelvin", "\u212Aelvin", true},  // KELVIN SIGN is K
		{"σοφός", "ΣΟΦΌΣ", true},         // final sigma titlecases to Σ
		{"dž", "ǆ", true},                // the digraph decomposes: D Z U+030C
		{"Ǆ", "ǅ", true},                 // and its cases fold alike
		{"ß", "STRAßE", true},            // ß has no simple titlecase...
		{"STRASSE", "Straße", false},     // ...so SS does not match it
		{"ß", "ẞ", false},                // nor is ẞ (its capital) titlecased to it
		{"i", "İstanbul", true},          // İ decomposes to I U+0307
		{"ı", "I", true},                 // dotless i titlecases to I
		{"viii", "Ⅷ", true},              // ROMAN NUMERAL EIGHT
		{"1/2", "½", false},              // ½ is 1 FRACTION SLASH 2
		{"\u1100\u1161", "\uAC00", true}, // Hangul syllables decompose
		{"日本語", "これは日本語です", true},
		{"zanzibar", "ZANZIBAR", true},
		{"zanzibar", "bazaar", false},
	} {
		got := strings.Contains(Casemap(c.text), Casemap(c.needle))
		if got != c.match {
			t.Errorf("%q in %q: %v (folds %+q, %+q), want %v", c.needle, c.text, got, Casemap(c.needle), Casemap(c.text), c.match)
		}
	}
	if Casemap("plain TEXT 1") != "PLAIN TEXT 1" || Casemap("ALREADY") != "ALREADY" {
		t.Error("ASCII is not upper-cased")
	}
	if got := Casemap("a\xffb\xfe\xfd"); got != "A\uFFFDB\uFFFD\uFFFD" {
		t.Errorf("invalid UTF-8: %+q", got)
	}
}

// TestCasemapAllRunes: over every character, Casemap is idempotent, the
// decompositions it uses are full (as NFKD of the one character), and no
// character of a decomposition titlecases to one that decomposes again
// (so maxCasemapDepth is never reached); letters and digits are all
// starters (canonical combining class 0), which the full-text index's
// runs of letters rely on.
func TestCasemapAllRunes(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		f := Casemap(string(r))
		if Casemap(f) != f {
			t.Errorf("%U: Casemap not idempotent: %+q, then %+q", r, f, Casemap(f))
		}
		title := string(unicode.ToTitle(r))
		if d := norm.NFKD.PropertiesString(title).Decomposition(); d != nil {
			if string(d) != norm.NFKD.String(title) {
				t.Errorf("%U: decomposition %+q is not NFKD %+q", r, d, norm.NFKD.String(title))
			}
			for _, c := range string(d) {
				if tc := string(unicode.ToTitle(c)); tc != string(c) && norm.NFKD.PropertiesString(tc).Decomposition() != nil {
					t.Errorf("%U: %U of its decomposition titlecases to %+q, which decomposes", r, c, tc)
				}
			}
		}
		if (unicode.IsLetter(r) || unicode.IsDigit(r)) && norm.NFD.PropertiesString(string(r)).CCC() != 0 {
			t.Errorf("%U: a letter or digit that is not a starter", r)
		}
	}
}

// casemapRunes are what the random strings of the fold tests are made
// of: ASCII, white space of several kinds, letters that decompose,
// combining marks in and out of canonical order, compatibility forms,
// Hangul, CJK, and bytes that are not UTF-8.
var casemapRunes = []string{"a", "B", "z", " ", "\t", "\r\n", "\u00a0", "\u3000", "é", "e", "\u0301", "\u0323", "É", "ß", "ẞ", "S",
	"ﬁ", "f", "I", "ı", "İ", "\u0307", "ǆ", "Ǆ", "ǅ", "ｆ", "Ａ", "\u212A", "k", "ς", "σ", "Σ", "ͅ", "Ⅷ", "½", "가", "\u1100", "\u1161", "日", "本", "\xff", "\xe2\x82"}

func randomCasemapString(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(casemapRunes[r.IntN(len(casemapRunes))])
	}
	return b.String()
}

// TestFoldSearchSubstring is the property that makes the full-text index
// never miss a match: whenever a needle matches a text by SEARCH's rule
// (Casemap(n) a substring of Casemap(t)), FoldSearch(n) is a substring of
// FoldSearch(t); and Casemap maps character by character, so a plain
// substring of valid UTF-8 matches too. Random texts, needles cut from
// them at character boundaries (changed in case now and then), and
// random needles, which match by chance (folds of different strings that
// are equal).
func TestFoldSearchSubstring(t *testing.T) {
	r := rand.New(rand.NewPCG(5255, 5051))
	matches := 0
	for i := range 20000 {
		text := randomCasemapString(r, 1+r.IntN(30))
		var needle string
		if i%2 == 0 {
			runes := []rune(strings.ToValidUTF8(text, "\uFFFD"))
			lo := r.IntN(len(runes))
			hi := lo + 1 + r.IntN(len(runes)-lo)
			needle = string(runes[lo:hi])
			if r.IntN(3) == 0 {
				needle = strings.ToUpper(needle)
			}
		} else {
			needle = randomCasemapString(r, 1+r.IntN(3))
		}
		if !strings.Contains(Casemap(text), Casemap(needle)) {
			if i%2 == 0 && !strings.ContainsRune(needle, utf8.RuneError) && strings.Contains(text, needle) {
				t.Errorf("%+q in %+q: a substring that does not match", needle, text)
			}
			continue
		}
		matches++
		if !strings.Contains(FoldSearch(text), FoldSearch(needle)) {
			t.Errorf("%+q matches %+q, but FoldSearch %+q is not in %+q", needle, text, FoldSearch(needle), FoldSearch(text))
		}
	}
	if matches < 5000 {
		t.Errorf("only %d matches: the test does not test", matches)
	}
}

// FuzzFoldSearch checks the same property on fuzzed strings.
func FuzzFoldSearch(f *testing.F) {
	f.Add("Café au lait", "cafe")
	f.Add("ﬁle  \u00a0name", "FILE NAME")
	f.Add("a\xffb", "\xff")
	f.Fuzz(func(t *testing.T, text, needle string) {
		if strings.Contains(Casemap(text), Casemap(needle)) && !strings.Contains(FoldSearch(text), FoldSearch(needle)) {
			t.Errorf("%+q matches %+q, but FoldSearch %+q is not in %+q", needle, text, FoldSearch(needle), FoldSearch(text))
		}
	})
}

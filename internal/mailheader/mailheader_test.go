package mailheader

import (
	"bytes"
	"testing"
)

func TestFields(t *testing.T) {
	h := []byte("From : Bob <bob@hill.test>\r\nmessage-id\t: <a@b>\n\tx\r\nnot a field\r\n cont\r\nSubject:hi\r\n\r\n")
	type got struct{ name, value, raw string }
	var out []got
	for f := range Fields(h) {
		out = append(out, got{string(f.Name), string(f.Value), string(h[f.Start:f.End])})
	}
	want := []got{
		{"From", " Bob <bob@hill.test>", "From : Bob <bob@hill.test>\r\n"},
		{"message-id", " <a@b>\tx", "message-id\t: <a@b>\n\tx\r\n"},
		{"Subject", "hi", "Subject:hi\r\n"},
	}
	if len(out) != len(want) {
		t.Fatalf("fields %q", out)
	}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("field %d: %q, want %q", i, out[i], want[i])
		}
	}
	if v := Values(h, "MESSAGE-ID"); len(v) != 1 || string(v[0]) != " <a@b>\tx" {
		t.Errorf("Values: %q", v)
	}
	list, err := ParseAddressList("=?x-unknown?q?J=E4ck?= <jack@town.test>, jill@hill.test")
	if err != nil || len(list) != 2 || list[0].Address != "jack@town.test" || list[1].Address != "jill@hill.test" {
		t.Errorf("ParseAddressList: %v %v", list, err)
	}
}

// FuzzFields checks the one header-field reading that delivery's author
// and Date/Message-ID checks and verify's checks share: every field has a
// name of printable ASCII without colon, lies within the section in
// order, and is found again by name.
func FuzzFields(f *testing.F) {
	f.Add([]byte("From : Bob <bob@hill.test>\r\nmessage-id\t: <a@b>\n\tx\r\n"))
	f.Add([]byte("x\r\n a: b\r\n\r\n"))
	f.Fuzz(func(t *testing.T, header []byte) {
		last := 0
		for fl := range Fields(header) {
			if len(fl.Name) == 0 || bytes.ContainsAny(fl.Name, ": \t\r\n") {
				t.Fatalf("field name %q", fl.Name)
			}
			if fl.Start < last || fl.End <= fl.Start || fl.End > len(header) || !bytes.HasPrefix(header[fl.Start:], fl.Name) {
				t.Fatalf("field %q at %d-%d after %d of %d", fl.Name, fl.Start, fl.End, last, len(header))
			}
			last = fl.End
			if len(Values(header, string(fl.Name))) == 0 {
				t.Fatalf("%q: field %q not found by name", header, fl.Name)
			}
		}
	})
}

package delivery

import (
	"bytes"
	"testing"
)

// FuzzHeaderFixer checks that the submission fix-up only ever adds header
// fields in front of the message and never changes the message itself.
func FuzzHeaderFixer(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\nbody\r\n"), 3)
	f.Fuzz(func(t *testing.T, msg []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		var out bytes.Buffer
		h := NewHeaderFixer(&out, "mx.test", "id")
		for i := 0; i < len(msg); i += chunk {
			h.Write(msg[i:min(i+chunk, len(msg))])
		}
		h.Close()
		if !bytes.HasSuffix(out.Bytes(), msg) {
			t.Fatalf("message changed: %q -> %q", msg, out.Bytes())
		}
		added := out.Bytes()[:out.Len()-len(msg)]
		for _, line := range bytes.SplitAfter(added, []byte("\r\n")) {
			if len(line) > 0 && !bytes.HasPrefix(line, []byte("Date: ")) && !bytes.HasPrefix(line, []byte("Message-ID: ")) {
				t.Fatalf("added %q", added)
			}
		}
	})
}

// FuzzHeaderFields checks the one header-field reading that the author
// check and the Date/Message-ID check share: every field has a name of
// printable ASCII without colon, and both checks see the same fields.
func FuzzHeaderFields(f *testing.F) {
	f.Add([]byte("From : Bob <bob@hill.test>\r\nmessage-id\t: <a@b>\n\tx\r\n"))
	f.Fuzz(func(t *testing.T, header []byte) {
		for fl := range fields(header) {
			if len(fl.name) == 0 || bytes.ContainsAny(fl.name, ": \t\r\n") {
				t.Fatalf("field name %q", fl.name)
			}
			name := string(fl.name)
			if !hasField(header, name) || len(fieldValues(header, name)) == 0 {
				t.Fatalf("%q: field %q not seen by both", header, name)
			}
		}
	})
}

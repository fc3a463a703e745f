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

package smtpd

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// FuzzCopyContent checks copyContent against a plain definition: content
// with a bare LF, a bare CR or a NUL is refused (whichever comes first),
// anything else is copied unchanged.
func FuzzCopyContent(f *testing.F) {
	for _, seed := range []string{"", "a\r\nb\r\n", "a\nb", "\r\n\n", "x\x00y\r\n", "\r\r\n", "no newline", "a\r.\r\n", "a\r\n.\r", "x\r"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		err := copyContent(&out, iotest.HalfReader(bytes.NewReader(in)), make([]byte, 7))
		wantErr := error(nil)
		for i, b := range in {
			if i > 0 && in[i-1] == '\r' && b != '\n' {
				wantErr = errBareCR
				break
			}
			if b == '\n' && (i == 0 || in[i-1] != '\r') {
				wantErr = errBareLF
				break
			}
			if b == 0 {
				wantErr = errNUL
				break
			}
		}
		if wantErr == nil && len(in) > 0 && in[len(in)-1] == '\r' {
			wantErr = errBareCR
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("copyContent(%q) error %v, want %v", in, err, wantErr)
		}
		if err == nil && !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("copyContent(%q) wrote %q", in, out.Bytes())
		}
	})
}

func BenchmarkCopyContent(b *testing.B) {
	line := bytes.Repeat([]byte("x"), 76)
	line = append(line, "\r\n"...)
	msg := bytes.Repeat(line, 4096/len(line)+1)
	b.SetBytes(int64(len(msg)))
	buf := make([]byte, contentBufSize)
	for b.Loop() {
		copyContent(io.Discard, bytes.NewReader(msg), buf)
	}
}

func TestHopCounter(t *testing.T) {
	many := bytes.Repeat([]byte("Received: from x\r\n\tby y\r\n"), maxHops)
	var out bytes.Buffer
	h := &hopCounter{w: &out}
	if _, err := h.Write(append(append([]byte{}, many...), "Subject: ok\r\n\r\nReceived: in the body\r\n"...)); err != nil {
		t.Fatalf("%d hops refused: %v", maxHops, err)
	}
	h = &hopCounter{w: &out}
	// Fed a byte at a time, one more Received is a loop.
	in := append(append([]byte{}, many...), "RECEIVED: one more\r\n\r\n"...)
	var err error
	for i := range in {
		if _, err = h.Write(in[i : i+1]); err != nil {
			break
		}
	}
	if !errors.Is(err, errLoop) {
		t.Errorf("%d hops accepted", maxHops+1)
	}
}

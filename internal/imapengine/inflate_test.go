package imapengine

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// waitingReader gives its bytes, then waits as a client's socket does.
type waitingReader struct {
	b    []byte
	gave bool
}

func (w *waitingReader) Read(p []byte) (int, error) {
	if w.gave {
		time.Sleep(time.Hour)
	}
	w.gave = true
	return copy(p, w.b), nil
}

// TestInflatePartialFlush: "3 NAMESPACE\r\n" as zlib sends it with
// Z_PARTIAL_FLUSH (python3: compressobj(6, DEFLATED, -15), then
// flush(Z_PARTIAL_FLUSH)), a fixed block and an empty one that ends
// mid-byte, is handed out without waiting for more input. (compress/flate
// waits here; mbsync sends its commands so.)
func TestInflatePartialFlush(t *testing.T) {
	data, _ := hex.DecodeString("3256f073f4750d0e707476e5e50208")
	z := newInflater(&waitingReader{b: data})
	got := make(chan string, 1)
	go func() {
		p := make([]byte, 256)
		n, err := z.Read(p)
		if err != nil {
			got <- err.Error()
		}
		got <- string(p[:n])
	}()
	select {
	case s := <-got:
		if s != "3 NAMESPACE\r\n" {
			t.Fatalf("inflated %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the inflater waits for more input with a whole command decoded")
	}
}

// TestInflateRoundTrip: what compress/flate writes, at every level and
// with sync flushes between pieces (stored, fixed and dynamic blocks,
// matches across blocks), inflates to what went in, read in small pieces.
func TestInflateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in bytes.Buffer
	for i := range 3000 {
		switch i % 3 {
		case 0:
			in.WriteString("a" + strings.Repeat("x", i%50) + " UID FETCH 1:* (FLAGS)\r\n")
		case 1:
			for range 40 {
				in.WriteByte(byte(rng.IntN(256)))
			}
		default:
			in.WriteString(strings.Repeat("abc", i%300))
		}
	}
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, level)
		src := in.Bytes()
		for len(src) > 0 {
			k := min(len(src), 1+rng.IntN(9000))
			w.Write(src[:k])
			w.Flush()
			src = src[k:]
		}
		w.Close()
		r := newInflater(&z)
		var out bytes.Buffer
		p := make([]byte, 777)
		for {
			n, err := r.Read(p)
			out.Write(p[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("level %d: %v after %d bytes", level, err, out.Len())
			}
		}
		if !bytes.Equal(out.Bytes(), in.Bytes()) {
			t.Fatalf("level %d: %d bytes out, %d in", level, out.Len(), in.Len())
		}
	}
}

// TestInflateInvalid: a block of type 3 and an over-subscribed dynamic
// code are errors, not panics.
func TestInflateInvalid(t *testing.T) {
	for _, data := range [][]byte{{0x07}, {0xff, 0xff, 0xff, 0xff, 0xff}} {
		r := newInflater(bytes.NewReader(data))
		if _, err := io.ReadAll(r); err == nil {
			t.Errorf("%x: no error", data)
		}
	}
}

// FuzzInflate: on any input the inflater ends without a panic, and on a
// stream compress/flate decodes to its end it gives the same bytes.
func FuzzInflate(f *testing.F) {
	for _, s := range []string{"", "3 NAMESPACE\r\n", strings.Repeat("a1 NOOP\r\n", 100)} {
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.BestCompression} {
			var z bytes.Buffer
			w, _ := flate.NewWriter(&z, level)
			w.Write([]byte(s))
			w.Flush()
			w.Write([]byte(s))
			w.Close()
			f.Add(z.Bytes())
		}
	}
	partial, _ := hex.DecodeString("3256f073f4750d0e707476e5e50208")
	f.Add(partial)
	f.Fuzz(func(t *testing.T, data []byte) {
		ours, oerr := io.ReadAll(io.LimitReader(newInflater(bytes.NewReader(data)), 1<<20))
		theirs, terr := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data)), 1<<20))
		if terr == nil && (oerr != nil || !bytes.Equal(ours, theirs)) {
			t.Fatalf("compress/flate gives %d bytes, the inflater %d (%v)", len(theirs), len(ours), oerr)
		}
	})
}

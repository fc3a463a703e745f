package pop3d

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"pail/internal/store"
)

// memBody is a store.Body held in memory: a body that is no file.
type memBody struct{ *bytes.Reader }

func (memBody) Close() error { return nil }

// memBodies serves every message's bytes from memory, upper-cased (the
// same length, so that LIST still matches), instead of from the real
// store's files. It tests the seam only: POP3 reads a store.Body, never
// a file; the real store stays the thing under test everywhere else.
type memBodies struct {
	Store
	opened int
}

func (m *memBodies) OpenBody(ctx context.Context, msg store.Message) (store.Body, error) {
	b, err := m.Store.OpenBody(ctx, msg)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if err != nil {
		return nil, err
	}
	m.opened++
	return memBody{bytes.NewReader(bytes.ToUpper(data))}, nil
}

// TestRetrAndTopReadABodyThatIsNoFile runs RETR and TOP, small and large
// (past RETR's read buffer), against bodies held in memory.
func TestRetrAndTopReadABodyThatIsNoFile(t *testing.T) {
	bodies := &memBodies{}
	env := newTestEnv(t, testOpts{wrap: func(s Store) Store { bodies.Store = s; return bodies }})
	big := "Subject: big\r\n\r\n" + linesOf(3*readBufSize) + ".dot\r\nend"
	deliver(t, env.st, env.acct.ID, big)
	msgs := append(append([]string{}, fixture...), big)

	c := dial(t, env.addr)
	c.login(testUser)
	for i, m := range msgs {
		want := strings.ToUpper(m)
		c.cmd(fmt.Sprintf("RETR %d", i+1), fmt.Sprintf(`\+OK %d octets`, len(m)))
		if got := c.wire(); got != stuffByByte(want) {
			t.Errorf("RETR %d: got %d octets %q..., want %d; first difference at %d", i+1, len(got), clip(got), len(stuffByByte(want)), firstDiff(got, stuffByByte(want)))
		}
	}
	c.cmd("TOP 1 0", `\+OK .*`)
	if got, want := c.multi(), "FROM: JACK@TOWN.TEST\r\nTO: JILL@HILL.TEST\r\nSUBJECT: ONE\r\n\r\n"; got != want {
		t.Errorf("TOP 1 0: got %q, want %q", got, want)
	}
	c.cmd("QUIT", `\+OK .*`)
	if bodies.opened != len(msgs)+1 {
		t.Errorf("%d bodies opened, want %d", bodies.opened, len(msgs)+1)
	}
}

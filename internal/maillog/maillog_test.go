package maillog

import (
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	var b strings.Builder
	l := New(&b)
	l.Now = func() time.Time { return time.Date(2026, 11, 25, 18, 30, 0, 123e6, time.FixedZone("x", 3600)) }
	l.Log(Received, "id", "5f2a", "from", "<jack@town.com>", "to", "<jill@hill.com>", "size", "512")
	l.Log(Rejected, "from", "<>", "reason", "550 5.1.1 no such user", "helo", "")
	want := "2026-11-25T17:30:00.123Z received id=5f2a from=<jack@town.com> to=<jill@hill.com> size=512\n" +
		"2026-11-25T17:30:00.123Z rejected from=<> reason=\"550 5.1.1 no such user\" helo=\"\"\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	var nl *Logger
	nl.Log(Received) // a nil logger discards
}

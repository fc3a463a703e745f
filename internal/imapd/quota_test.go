package imapd

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestQuotaCommands: over a raw socket, QUOTA and QUOTA=RES-STORAGE are
// offered, GETQUOTAROOT names the root "" with its STORAGE in KiB,
// SETQUOTA is refused, and APPEND and COPY past the quota are NO
// [OVERQUOTA] while an APPEND that fits is stored.
func TestQuotaCommands(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	if err := env.st.SetQuota(ctx, "bob@hill.com", 4096); err != nil {
		t.Fatal(err)
	}
	env.deliver(t, env.acct.ID, "INBOX", "Subject: big\r\n\r\n"+strings.Repeat("x", 3000)+"\r\n")
	r := dialRaw(t, env.addr)
	last := func(lines []string) string { return lines[len(lines)-1] }
	if out := r.cmd(`LOGIN bob@hill.com "` + testPassword + `"`); !strings.Contains(last(out), "OK") {
		t.Fatalf("LOGIN: %q", out)
	}
	if out := strings.Join(r.cmd("CAPABILITY"), "\n"); !strings.Contains(out, " QUOTA ") || !strings.Contains(out, " QUOTA=RES-STORAGE") {
		t.Errorf("CAPABILITY: %q", out)
	}
	out := r.cmd("GETQUOTAROOT INBOX")
	if len(out) != 3 || out[0] != `* QUOTAROOT INBOX ""` || out[1] != `* QUOTA "" (STORAGE 3 4)` || !strings.Contains(out[2], " OK ") {
		t.Errorf("GETQUOTAROOT: %q", out)
	}
	if out := r.cmd(`GETQUOTA ""`); len(out) != 2 || out[0] != `* QUOTA "" (STORAGE 3 4)` {
		t.Errorf("GETQUOTA: %q", out)
	}
	if out := r.cmd(`GETQUOTA "other"`); !strings.Contains(last(out), " NO ") {
		t.Errorf("GETQUOTA of another root: %q", out)
	}
	if out := r.cmd(`SETQUOTA "" (STORAGE 100000)`); !strings.Contains(last(out), " NO ") {
		t.Errorf("SETQUOTA: %q", out)
	}
	big := "Subject: b\r\n\r\n" + strings.Repeat("y", 2000) + "\r\n"
	if out := r.cmd(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(big), big)); !strings.Contains(last(out), " NO [OVERQUOTA]") {
		t.Errorf("APPEND over quota: %q", out)
	}
	small := "Subject: s\r\n\r\nsmall\r\n"
	if out := r.cmd(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(small), small)); !strings.Contains(last(out), " OK [APPENDUID") {
		t.Errorf("APPEND within quota: %q", out)
	}
	r.cmd("SELECT INBOX")
	if out := r.cmd("COPY 1 Archive"); !strings.Contains(last(out), " NO [OVERQUOTA]") {
		t.Errorf("COPY over quota: %q", out)
	}
	if out := r.cmd("COPY 2 Archive"); !strings.Contains(last(out), " OK ") {
		t.Errorf("COPY within quota: %q", out)
	}
	// Without a quota there is no root.
	if err := env.st.SetQuota(ctx, "bob@hill.com", 0); err != nil {
		t.Fatal(err)
	}
	if out := r.cmd("GETQUOTAROOT INBOX"); len(out) != 2 || out[0] != `* QUOTAROOT INBOX` {
		t.Errorf("GETQUOTAROOT without a quota: %q", out)
	}
}

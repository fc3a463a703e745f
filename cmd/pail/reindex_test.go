package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pail/internal/store"
)

// TestReindexCommand: pail reindex ADDR rebuilds the account's index
// from its files and says how many messages it indexed; searches narrow
// on it (non-ASCII text found, in any case).
func TestReindexCommand(t *testing.T) {
	p := newPail(t)
	p.must("pw\n", "user", "add", "jill@hill.test", "--password-stdin")
	in := "From jack@town.test Mon Jan  2 15:04:05 2006\nSubject: zanzibar\n\nhello\n" +
		"From jack@town.test Tue Jan  3 15:04:05 2006\nSubject: two\n\nGrüße aus Straßburg\n"
	file := filepath.Join(t.TempDir(), "in.mbox")
	os.WriteFile(file, []byte(in), 0o600)
	p.must("", "import", "jill@hill.test", file)
	if out := p.must("", "reindex", "jill@hill.test"); out != "reindexed 2 messages of jill@hill.test\n" {
		t.Errorf("reindex: %q", out)
	}
	if _, err := p.run("", "reindex", "nobody@hill.test"); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Errorf("reindex of no account: %v", err)
	}
	e := &env{ctx: context.Background(), config: p.config}
	_, st, err := e.openStore()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct, _ := st.AccountByAddress(e.ctx, "jill@hill.test")
	mb, _ := st.MailboxByName(e.ctx, acct.ID, store.Inbox)
	uids, narrowed, err := st.SearchText(e.ctx, mb.ID, "BODY", "STRASSB")
	if err != nil || !narrowed || len(uids) != 0 {
		t.Errorf("ß is not ss: %v %v", uids, err)
	}
	uids, narrowed, err = st.SearchText(e.ctx, mb.ID, "BODY", "STRAßB")
	if err != nil || !narrowed || !slices.Equal(uids, []uint32{2}) {
		t.Errorf("after reindex: %v %v %v", uids, narrowed, err)
	}
}

package main

import (
	"errors"
	"flag"
	"fmt"

	"pail/internal/address"
	"pail/internal/store"
)

// cmdReindex rebuilds an account's full-text search index from its
// message files (store.Reindex); searches stay correct meanwhile.
func cmdReindex(e *env, args []string) error {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "reindex ADDR"); err != nil {
		return err
	}
	norm, err := address.Normalize(pos[0])
	if err != nil {
		return fmt.Errorf("%q: %w", pos[0], err)
	}
	_, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	acct, err := st.AccountByAddress(e.ctx, norm)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no account %s", norm)
	}
	if err != nil {
		return err
	}
	n, err := st.Reindex(e.ctx, acct.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "reindexed %d messages of %s\n", n, norm)
	return nil
}

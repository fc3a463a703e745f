package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"pail/internal/config"
	"pail/internal/server"
	"pail/internal/sieve"
	"pail/internal/store"
)

// openSieve opens the store and finds the account of addr.
func (e *env) openSieve(addr string) (*config.Config, *store.Store, store.Account, error) {
	cfg, st, err := e.openStore()
	if err != nil {
		return nil, nil, store.Account{}, err
	}
	acct, err := st.AccountByAddress(e.ctx, addr)
	if err != nil {
		st.Close()
		return nil, nil, store.Account{}, fmt.Errorf("account %s: %w", addr, err)
	}
	return cfg, st, acct, nil
}

// cmdSievePut stores a script read from FILE ("-" or none: standard
// input), compiled first so that an error is shown with its line and
// column and nothing is stored; --activate makes it the active one.
func cmdSievePut(e *env, args []string) error {
	fs := flag.NewFlagSet("sieve put", flag.ContinueOnError)
	activate := fs.Bool("activate", false, "make it the active script")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, 3, "sieve put ADDR NAME [FILE] [--activate]"); err != nil {
		return err
	}
	cfg, st, acct, err := e.openSieve(pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	var in io.Reader = e.stdin
	if len(pos) == 3 && pos[2] != "-" {
		f, err := os.Open(pos[2])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	// One octet past the limit tells a script that is too large.
	text, err := io.ReadAll(io.LimitReader(in, int64(cfg.Sieve.MaxScriptBytes)+1))
	if err != nil {
		return fmt.Errorf("reading the script: %w", err)
	}
	if _, err := sieve.Compile(text, server.SieveOptions(cfg)); err != nil {
		return fmt.Errorf("script %s not stored: %w", pos[1], err)
	}
	if err := st.PutSieveScript(e.ctx, acct.ID, pos[1], text, server.SieveLimits(cfg)); err != nil {
		return err
	}
	if *activate {
		if err := st.SetActiveSieveScript(e.ctx, acct.ID, pos[1]); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "stored %s for %s (%d octets)%s\n", pos[1], acct.Address, len(text), map[bool]string{true: ", active"}[*activate])
	return nil
}

func cmdSieveGet(e *env, args []string) error {
	fs := flag.NewFlagSet("sieve get", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, 2, "sieve get ADDR NAME"); err != nil {
		return err
	}
	_, st, acct, err := e.openSieve(pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	sc, err := st.SieveScript(e.ctx, acct.ID, pos[1])
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(sc.Text)
	return err
}

func cmdSieveList(e *env, args []string) error {
	fs := flag.NewFlagSet("sieve list", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "sieve list ADDR"); err != nil {
		return err
	}
	_, st, acct, err := e.openSieve(pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	scripts, err := st.SieveScripts(e.ctx, acct.ID)
	if err != nil {
		return err
	}
	for _, sc := range scripts {
		active := ""
		if sc.Active {
			active = " active"
		}
		fmt.Fprintf(e.stdout, "%s %d %s%s\n", sc.Name, sc.Size, sc.Updated.UTC().Format("2006-01-02T15:04:05Z"), active)
	}
	return nil
}

// cmdSieveActivate makes NAME the active script; --off leaves none
// active.
func cmdSieveActivate(e *env, args []string) error {
	fs := flag.NewFlagSet("sieve activate", flag.ContinueOnError)
	off := fs.Bool("off", false, "deactivate the active script")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if (*off && len(pos) != 1) || (!*off && len(pos) != 2) {
		return fmt.Errorf("usage: pail sieve activate ADDR NAME | ADDR --off")
	}
	_, st, acct, err := e.openSieve(pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	name := ""
	if !*off {
		name = pos[1]
	}
	if err := st.SetActiveSieveScript(e.ctx, acct.ID, name); err != nil {
		return err
	}
	if name == "" {
		fmt.Fprintf(e.stdout, "no active script for %s\n", acct.Address)
	} else {
		fmt.Fprintf(e.stdout, "%s is active for %s\n", name, acct.Address)
	}
	return nil
}

func cmdSieveDelete(e *env, args []string) error {
	fs := flag.NewFlagSet("sieve delete", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, 2, "sieve delete ADDR NAME"); err != nil {
		return err
	}
	_, st, acct, err := e.openSieve(pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DeleteSieveScript(e.ctx, acct.ID, pos[1]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted %s of %s\n", pos[1], acct.Address)
	return nil
}

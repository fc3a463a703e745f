package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"strings"

	"pail/internal/address"
	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/store"
)

// maxPasswordBytes bounds a password read from stdin.
const maxPasswordBytes = 1024

func cmdUserAdd(e *env, args []string) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	admin := fs.Bool("admin", false, "make the account an admin")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "user add ADDR [--password-stdin] [--admin]"); err != nil {
		return err
	}
	cfg, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	addr, err := localAddress(cfg, pos[0])
	if err != nil {
		return err
	}
	pw, err := e.readPassword(*fromStdin)
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	acct, err := st.AddAccount(e.ctx, addr, hash, *admin)
	if err != nil {
		return err
	}
	role := ""
	if acct.Admin {
		role = " (admin)"
	}
	fmt.Fprintf(e.stdout, "added %s%s\n", acct.Address, role)
	return nil
}

func cmdUserList(e *env, args []string) error {
	fs := flag.NewFlagSet("user list", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "user list"); err != nil {
		return err
	}
	_, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	accts, err := st.Accounts(e.ctx)
	if err != nil {
		return err
	}
	for _, a := range accts {
		role := ""
		if a.Admin {
			role = "\tadmin"
		}
		fmt.Fprintf(e.stdout, "%s%s\n", a.Address, role)
	}
	return nil
}

func cmdUserDelete(e *env, args []string) error {
	fs := flag.NewFlagSet("user delete", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "user delete ADDR"); err != nil {
		return err
	}
	_, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	addr, err := address.Normalize(pos[0])
	if err != nil {
		return fmt.Errorf("%q: %w", pos[0], err)
	}
	if err := st.DeleteAccount(e.ctx, addr); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no account %s", addr)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "deleted %s\n", addr)
	return nil
}

func cmdUserPasswd(e *env, args []string) error {
	fs := flag.NewFlagSet("user passwd", flag.ContinueOnError)
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "user passwd ADDR [--password-stdin]"); err != nil {
		return err
	}
	_, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	addr, err := address.Normalize(pos[0])
	if err != nil {
		return fmt.Errorf("%q: %w", pos[0], err)
	}
	pw, err := e.readPassword(*fromStdin)
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	if err := st.SetPassword(e.ctx, addr, hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no account %s", addr)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "changed password of %s\n", addr)
	return nil
}

func cmdAliasAdd(e *env, args []string) error {
	fs := flag.NewFlagSet("alias add", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, -1, "alias add ALIAS TARGET..."); err != nil {
		return err
	}
	cfg, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	alias, err := localAddress(cfg, pos[0])
	if err != nil {
		return err
	}
	var targets []string
	for _, t := range pos[1:] {
		n, err := address.Normalize(t)
		if err != nil {
			return fmt.Errorf("target %q: %w", t, err)
		}
		targets = append(targets, n)
	}
	if err := st.AddAlias(e.ctx, alias, targets); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s -> %s\n", alias, strings.Join(targets, ", "))
	return nil
}

func cmdAliasList(e *env, args []string) error {
	fs := flag.NewFlagSet("alias list", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "alias list"); err != nil {
		return err
	}
	_, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	aliases, err := st.Aliases(e.ctx)
	if err != nil {
		return err
	}
	for _, a := range aliases {
		fmt.Fprintf(e.stdout, "%s\t%s\n", a.Address, strings.Join(a.Targets, " "))
	}
	return nil
}

func cmdAliasDelete(e *env, args []string) error {
	fs := flag.NewFlagSet("alias delete", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, -1, "alias delete ALIAS [TARGET...]"); err != nil {
		return err
	}
	_, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	var addrs []string
	for _, a := range pos {
		n, err := address.Normalize(a)
		if err != nil {
			return fmt.Errorf("%q: %w", a, err)
		}
		addrs = append(addrs, n)
	}
	if err := st.DeleteAlias(e.ctx, addrs[0], addrs[1:]...); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no alias %s", strings.Join(pos, " "))
		}
		return err
	}
	fmt.Fprintf(e.stdout, "deleted %s\n", strings.Join(addrs, " "))
	return nil
}

// localAddress normalises addr and checks that its domain is served here.
func localAddress(cfg *config.Config, addr string) (string, error) {
	n, err := address.Normalize(addr)
	if err != nil {
		return "", fmt.Errorf("%q: %w", addr, err)
	}
	if !cfg.IsLocalDomain(address.Domain(n)) {
		return "", fmt.Errorf("%s: domain %s is not in the configured domains %v (config key domains)", n, address.Domain(n), cfg.Domains)
	}
	return n, nil
}

// readPassword reads one line from stdin: the password. Without
// --password-stdin a prompt is shown first.
func (e *env) readPassword(fromStdin bool) (string, error) {
	if !fromStdin {
		fmt.Fprint(e.stderr, "Password: ")
	}
	r := bufio.NewReaderSize(e.stdin, maxPasswordBytes)
	line, err := r.ReadSlice('\n')
	if err != nil && len(line) == 0 {
		return "", errors.New("no password on standard input")
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("password longer than %d bytes", maxPasswordBytes)
	}
	pw := strings.TrimRight(string(line), "\r\n")
	if pw == "" {
		return "", errors.New("empty password")
	}
	return pw, nil
}

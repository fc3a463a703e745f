package main

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

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
	acct, err := addAccount(e.ctx, st, addr, pw, *admin)
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

// addAccount creates the account addr (normalised, at a local domain)
// with password pw, stored as every account's is (auth.HashPassword).
func addAccount(ctx context.Context, st *store.Store, addr, pw string, admin bool) (store.Account, error) {
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return store.Account{}, err
	}
	return st.AddAccount(ctx, addr, hash, admin)
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

// readPassword returns the new password of an account. With
// --password-stdin it is the first line of standard input, for scripts.
// Without it standard input must be a terminal: the password is asked
// twice, read with echo off (it never appears on the screen), and two
// that differ are refused, so a typo cannot set a password nobody knows.
// Anything else is refused with a pointer to --password-stdin rather than
// prompting no one.
func (e *env) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		return readPasswordLine(e.stdin)
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal: give the password on standard input with --password-stdin")
	}
	fd := int(f.Fd())
	pw, err := e.askPassword(fd, "Password: ")
	if err != nil {
		return "", err
	}
	again, err := e.askPassword(fd, "Password (again): ")
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(pw), []byte(again)) != 1 {
		return "", errors.New("the two passwords differ; nothing changed")
	}
	return pw, nil
}

// askPassword prompts on stderr and reads one line from the terminal fd
// with echo off. The terminal's line discipline bounds the line (4096
// octets on Linux); maxPasswordBytes bounds what is kept.
func (e *env) askPassword(fd int, prompt string) (string, error) {
	fmt.Fprint(e.stderr, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(e.stderr) // the newline typed was not echoed either
	if err != nil {
		return "", fmt.Errorf("reading the password from the terminal: %w", err)
	}
	if len(b) > maxPasswordBytes {
		return "", fmt.Errorf("password longer than %d bytes", maxPasswordBytes)
	}
	if len(b) == 0 {
		return "", errors.New("empty password")
	}
	return string(b), nil
}

// readPasswordLine reads the password from the first line of r.
func readPasswordLine(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(r, maxPasswordBytes)
	line, err := br.ReadSlice('\n')
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

package main

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"pail/internal/address"
	"pail/internal/admin"
	"pail/internal/config"
	"pail/internal/store"
)

// openAdmin opens the store (openStore) and returns the admin operations
// on it; close closes the store.
func (e *env) openAdmin() (a *admin.Admin, close func() error, err error) {
	cfg, st, err := e.openStore()
	if err != nil {
		return nil, nil, err
	}
	return &admin.Admin{Store: st, Config: func() *config.Config { return cfg }}, st.Close, nil
}

func cmdUserAdd(e *env, args []string) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	isAdmin := fs.Bool("admin", false, "make the account an admin")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "user add ADDR [--password-stdin] [--admin]"); err != nil {
		return err
	}
	a, closeStore, err := e.openAdmin()
	if err != nil {
		return err
	}
	defer closeStore()
	// The address is checked before a password is asked for.
	if _, err := a.LocalAddress(pos[0]); err != nil {
		return err
	}
	pw, err := e.readPassword(*fromStdin)
	if err != nil {
		return err
	}
	acct, err := a.AddAccount(e.ctx, pos[0], pw, *isAdmin)
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
	a, closeStore, err := e.openAdmin()
	if err != nil {
		return err
	}
	defer closeStore()
	accts, err := a.Accounts(e.ctx)
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
	a, closeStore, err := e.openAdmin()
	if err != nil {
		return err
	}
	defer closeStore()
	addr, err := a.DeleteAccount(e.ctx, pos[0])
	if err != nil {
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
	a, closeStore, err := e.openAdmin()
	if err != nil {
		return err
	}
	defer closeStore()
	if _, err := address.Normalize(pos[0]); err != nil {
		return fmt.Errorf("%q: %w", pos[0], err)
	}
	pw, err := e.readPassword(*fromStdin)
	if err != nil {
		return err
	}
	addr, err := a.SetPassword(e.ctx, pos[0], pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "changed password of %s\n", addr)
	return nil
}

func cmdUserAdmin(e *env, args []string) error {
	fs := flag.NewFlagSet("user admin", flag.ContinueOnError)
	off := fs.Bool("off", false, "take the admin flag away")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "user admin ADDR [--off]"); err != nil {
		return err
	}
	a, closeStore, err := e.openAdmin()
	if err != nil {
		return err
	}
	defer closeStore()
	addr, err := a.SetAdmin(e.ctx, pos[0], !*off)
	if err != nil {
		return err
	}
	if *off {
		fmt.Fprintf(e.stdout, "%s is no longer an admin\n", addr)
	} else {
		fmt.Fprintf(e.stdout, "%s is an admin\n", addr)
	}
	return nil
}

// sizeUnits are the suffixes a quota may be written with, binary
// multiples as mail clients show sizes.
var sizeUnits = map[string]int64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

// parseSize reads a quota: octets, or a number with K, M, G or T (KiB,
// MiB, GiB, TiB); "default" is store.QuotaDefault.
func parseSize(s string) (int64, error) {
	if strings.EqualFold(s, "default") {
		return store.QuotaDefault, nil
	}
	mult := int64(1)
	if n := len(s); n > 0 {
		if m, ok := sizeUnits[strings.ToUpper(s[n-1:])]; ok {
			s, mult = s[:n-1], m
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size (octets, or a number with K, M, G or T; 0: no limit; default)", s)
	}
	return v * mult, nil
}

func cmdUserQuota(e *env, args []string) error {
	fs := flag.NewFlagSet("user quota", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, 2, "user quota ADDR SIZE"); err != nil {
		return err
	}
	size, err := parseSize(pos[1])
	if err != nil {
		return err
	}
	a, closeStore, err := e.openAdmin()
	if err != nil {
		return err
	}
	defer closeStore()
	addr, q, err := a.SetQuota(e.ctx, pos[0], size)
	if err != nil {
		return err
	}
	limit := "no limit"
	if q.Limit > 0 {
		limit = strconv.FormatInt(q.Limit, 10) + " octets"
	}
	if !q.Own {
		limit += " (the default, [limits] quota_bytes)"
	}
	fmt.Fprintf(e.stdout, "quota of %s: %s, %d octets used\n", addr, limit, q.Used)
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
	a, closeStore, err := e.openAdmin()
	if err != nil {
		return err
	}
	defer closeStore()
	al, err := a.AddAlias(e.ctx, pos[0], pos[1:])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s -> %s\n", al.Address, strings.Join(al.Targets, ", "))
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
	a, closeStore, err := e.openAdmin()
	if err != nil {
		return err
	}
	defer closeStore()
	aliases, err := a.Aliases(e.ctx)
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
	a, closeStore, err := e.openAdmin()
	if err != nil {
		return err
	}
	defer closeStore()
	addrs, err := a.DeleteAlias(e.ctx, pos[0], pos[1:])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted %s\n", strings.Join(addrs, " "))
	return nil
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
// octets on Linux); admin.MaxPasswordBytes bounds what is kept.
func (e *env) askPassword(fd int, prompt string) (string, error) {
	fmt.Fprint(e.stderr, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(e.stderr) // the newline typed was not echoed either
	if err != nil {
		return "", fmt.Errorf("reading the password from the terminal: %w", err)
	}
	if len(b) > admin.MaxPasswordBytes {
		return "", fmt.Errorf("password longer than %d bytes", admin.MaxPasswordBytes)
	}
	if len(b) == 0 {
		return "", errors.New("empty password")
	}
	return string(b), nil
}

// readPasswordLine reads the password from the first line of r.
func readPasswordLine(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(r, admin.MaxPasswordBytes)
	line, err := br.ReadSlice('\n')
	if err != nil && len(line) == 0 {
		return "", errors.New("no password on standard input")
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("password longer than %d bytes", admin.MaxPasswordBytes)
	}
	pw := strings.TrimRight(string(line), "\r\n")
	if pw == "" {
		return "", errors.New("empty password")
	}
	return pw, nil
}

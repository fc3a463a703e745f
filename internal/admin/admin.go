// Package admin is what an administrator does to a pail installation:
// add, delete and change accounts, keep aliases, and look at the
// outgoing queue and the DNS records. The pail command's user, alias and
// queue commands and the webmail's admin page both run these operations,
// so that a rule (the domain must be local, passwords are hashed one way,
// the last admin stays) holds whichever one is used.
package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"pail/internal/address"
	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/dnsrecords"
	"pail/internal/queue"
	"pail/internal/store"
)

// MaxPasswordBytes bounds a new password, wherever it comes from: long
// enough for any passphrase, short enough that hashing it costs nothing
// extra.
const MaxPasswordBytes = 1024

// Store is the part of the store the account and alias operations change
// (*store.Store).
type Store interface {
	Accounts(ctx context.Context) ([]store.Account, error)
	AddAccount(ctx context.Context, address, passwordHash string, admin bool) (store.Account, error)
	DeleteAccount(ctx context.Context, address string) error
	SetPassword(ctx context.Context, address, passwordHash string) error
	SetAdmin(ctx context.Context, address string, admin bool) error
	SetQuota(ctx context.Context, address string, octets int64) error
	AccountByAddress(ctx context.Context, address string) (store.Account, error)
	Quota(ctx context.Context, accountID int64) (store.Quota, error)
	Aliases(ctx context.Context) ([]store.Alias, error)
	AddAlias(ctx context.Context, alias string, targets []string) error
	DeleteAlias(ctx context.Context, alias string, targets ...string) error
}

var _ Store = (*store.Store)(nil)

// Queue is the outgoing queue as an administrator sees it (*queue.Queue).
type Queue interface {
	List(ctx context.Context) ([]queue.Message, error)
	Show(ctx context.Context, id string) (queue.Message, error)
	Flush(ctx context.Context) (int, error)
	Delete(ctx context.Context, id string) error
	// OpenBody opens a queued message's bytes (see Content).
	OpenBody(ctx context.Context, m queue.Message) (store.Body, error)
}

var _ Queue = (*queue.Queue)(nil)

// Refusal is an operation refused for a reason the administrator can act
// on. Its text says what was refused and why, names nothing but the
// input, and may be shown as it is.
type Refusal struct {
	Msg string
	Err error // the cause, for errors.Is; may be nil
}

func (r *Refusal) Error() string { return r.Msg }

// Unwrap returns the cause.
func (r *Refusal) Unwrap() error { return r.Err }

func refuse(err error, format string, args ...any) error {
	return &Refusal{Msg: fmt.Sprintf(format, args...), Err: err}
}

// Admin runs the operations on one installation.
type Admin struct {
	Store Store
	// Config returns the configuration in force: a running server's local
	// domains and [dkim] settings change on reload.
	Config func() *config.Config
	// DKIMKeys returns a local domain's DKIM keys, for its records.
	DKIMKeys func(domain string) ([]dkim.Key, error)
}

// CheckPassword refuses a new password that is empty or longer than
// MaxPasswordBytes.
func CheckPassword(pw string) error {
	switch {
	case pw == "":
		return refuse(nil, "empty password")
	case len(pw) > MaxPasswordBytes:
		return refuse(nil, "password longer than %d bytes", MaxPasswordBytes)
	}
	return nil
}

// hash checks and hashes a new password, as every login checks it
// (auth.CheckPassword).
func hash(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	h, err := auth.HashPassword(pw)
	if err != nil {
		return "", fmt.Errorf("admin: hashing a password: %w", err)
	}
	return h, nil
}

// normalize returns addr normalised, or a Refusal naming it.
func normalize(addr string) (string, error) {
	n, err := address.Normalize(addr)
	if err != nil {
		return "", refuse(err, "%q: %v", addr, err)
	}
	return n, nil
}

// LocalAddress normalises addr and checks that its domain is served here:
// accounts and aliases exist only in local domains.
func (a *Admin) LocalAddress(addr string) (string, error) {
	n, err := normalize(addr)
	if err != nil {
		return "", err
	}
	cfg := a.Config()
	if !cfg.IsLocalDomain(address.Domain(n)) {
		return "", refuse(nil, "%s: domain %s is not in the configured domains %v (config key domains)", n, address.Domain(n), cfg.Domains)
	}
	return n, nil
}

// Domains returns the local domains.
func (a *Admin) Domains() []string { return a.Config().Domains }

// Accounts lists every account, ordered by address.
func (a *Admin) Accounts(ctx context.Context) ([]store.Account, error) {
	return a.Store.Accounts(ctx)
}

// AddAccount creates the account addr in a local domain with password,
// hashed. The first account is always an admin.
func (a *Admin) AddAccount(ctx context.Context, addr, password string, isAdmin bool) (store.Account, error) {
	n, err := a.LocalAddress(addr)
	if err != nil {
		return store.Account{}, err
	}
	h, err := hash(password)
	if err != nil {
		return store.Account{}, err
	}
	acct, err := a.Store.AddAccount(ctx, n, h, isAdmin)
	if errors.Is(err, store.ErrExists) {
		return store.Account{}, refuse(err, "%s already exists as an account or an alias", n)
	}
	return acct, err
}

// DeleteAccount deletes the account addr with all its mail and returns
// its normalised address. The last admin is not deleted while other
// accounts remain.
func (a *Admin) DeleteAccount(ctx context.Context, addr string) (string, error) {
	n, err := normalize(addr)
	if err != nil {
		return "", err
	}
	return n, accountError(a.Store.DeleteAccount(ctx, n), n)
}

// SetPassword replaces the password of the account addr and returns its
// normalised address. Sessions and cached logins made with the old
// password end: both are tied to the stored hash.
func (a *Admin) SetPassword(ctx context.Context, addr, password string) (string, error) {
	n, err := normalize(addr)
	if err != nil {
		return "", err
	}
	h, err := hash(password)
	if err != nil {
		return "", err
	}
	return n, accountError(a.Store.SetPassword(ctx, n, h), n)
}

// SetAdmin sets or clears the admin flag of the account addr and returns
// its normalised address. The last admin keeps the flag.
func (a *Admin) SetAdmin(ctx context.Context, addr string, isAdmin bool) (string, error) {
	n, err := normalize(addr)
	if err != nil {
		return "", err
	}
	return n, accountError(a.Store.SetAdmin(ctx, n, isAdmin), n)
}

// SetQuota sets the storage quota of the account addr in octets (0: no
// limit; store.QuotaDefault: the [limits] quota_bytes default) and returns
// its normalised address and the quota now in force with its usage.
func (a *Admin) SetQuota(ctx context.Context, addr string, octets int64) (string, store.Quota, error) {
	n, err := normalize(addr)
	if err != nil {
		return "", store.Quota{}, err
	}
	if err := a.Store.SetQuota(ctx, n, octets); err != nil {
		return n, store.Quota{}, accountError(err, n)
	}
	acct, err := a.Store.AccountByAddress(ctx, n)
	if err != nil {
		return n, store.Quota{}, accountError(err, n)
	}
	q, err := a.Store.Quota(ctx, acct.ID)
	return n, q, err
}

// accountError turns the store's refusals about the account addr into
// Refusals.
func accountError(err error, addr string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refuse(err, "no account %s", addr)
	case errors.Is(err, store.ErrLastAdmin):
		return refuse(err, "%s is the last admin account: make another account an admin first", addr)
	}
	return err
}

// Aliases lists every alias with its targets, ordered by address.
func (a *Admin) Aliases(ctx context.Context) ([]store.Alias, error) {
	return a.Store.Aliases(ctx)
}

// AddAlias adds targets (any addresses) to the alias in a local domain,
// creating it, and returns it as stored now.
func (a *Admin) AddAlias(ctx context.Context, alias string, targets []string) (store.Alias, error) {
	n, err := a.LocalAddress(alias)
	if err != nil {
		return store.Alias{}, err
	}
	if len(targets) == 0 {
		return store.Alias{}, refuse(nil, "alias %s needs at least one target", n)
	}
	out := store.Alias{Address: n}
	for _, t := range targets {
		tn, err := address.Normalize(t)
		if err != nil {
			return store.Alias{}, refuse(err, "target %q: %v", t, err)
		}
		out.Targets = append(out.Targets, tn)
	}
	if err := a.Store.AddAlias(ctx, n, out.Targets); err != nil {
		if errors.Is(err, store.ErrExists) {
			return store.Alias{}, refuse(err, "%s is an account", n)
		}
		return store.Alias{}, err
	}
	return out, nil
}

// DeleteAlias removes the alias, or only the named targets of it, and
// returns the normalised addresses.
func (a *Admin) DeleteAlias(ctx context.Context, alias string, targets []string) ([]string, error) {
	var addrs []string
	for _, x := range append([]string{alias}, targets...) {
		n, err := normalize(x)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, n)
	}
	if err := a.Store.DeleteAlias(ctx, addrs[0], addrs[1:]...); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, refuse(err, "no alias %s", strings.Join(addrs, " "))
		}
		return nil, err
	}
	return addrs, nil
}

// DNSRecords returns what a local domain publishes for pail, as `pail
// dns-records` prints it (the host name's TLSA record with it).
func (a *Admin) DNSRecords(domain string) (dnsrecords.Listing, error) {
	cfg := a.Config()
	if _, err := dnsrecords.LocalDomain(cfg, domain); err != nil {
		return dnsrecords.Listing{}, refuse(err, "%v", err)
	}
	return dnsrecords.ListWithDANE(cfg, domain, a.DKIMKeys)
}

// Content returns the bytes of a queued message, at most limit of them
// (limit <= 0: all), with CRLF line ends shown as LF; cut reports that
// there was more. The queue itself keeps the CRLF.
func Content(ctx context.Context, q Queue, m queue.Message, limit int64) (text []byte, cut bool, err error) {
	b, err := q.OpenBody(ctx, m)
	if err != nil {
		return nil, false, fmt.Errorf("admin: queued message %s: %w", m.ID, err)
	}
	defer b.Close()
	var r io.Reader = io.NewSectionReader(b, 0, b.Size())
	if limit > 0 {
		r = io.LimitReader(r, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, false, fmt.Errorf("admin: queued message %s: %w", m.ID, err)
	}
	if limit > 0 && int64(len(data)) > limit {
		data, cut = data[:limit], true
	}
	return bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), cut, nil
}

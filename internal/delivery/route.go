// Package delivery decides where mail goes and puts it there: it resolves a
// recipient address (accounts, aliases, subaddresses, postmaster) to local
// accounts and remote addresses, writes the trace headers (Return-Path,
// Received), stores local copies in one store transaction and hands remote
// recipients to the outgoing queue.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"pail/internal/address"
	"pail/internal/store"
)

// Errors from Resolve.
var (
	// ErrNotLocal means the recipient's domain is not one of ours.
	ErrNotLocal = errors.New("delivery: domain is not local")
	// ErrUnknownUser means the domain is ours but no account or alias
	// matches.
	ErrUnknownUser = errors.New("delivery: no such user")
	// ErrNoPostmaster means postmaster@ was asked for but no account
	// exists yet to receive it.
	ErrNoPostmaster = errors.New("delivery: no account for postmaster yet")
)

// maxAliasDepth bounds alias expansion (aliases of aliases).
const maxAliasDepth = 10

// Directory is the part of the store routing reads.
type Directory interface {
	AccountByAddress(ctx context.Context, address string) (store.Account, error)
	AliasTargets(ctx context.Context, alias string) ([]string, error)
	FirstAdmin(ctx context.Context) (store.Account, error)
}

// Route is where one recipient's copy goes.
type Route struct {
	Accounts []Target // local accounts
	Remote   []string // remote addresses (alias forwarding, or submission)
}

// Router resolves recipients. It reads the store on every call, so account
// and alias changes made by the admin commands take effect at once.
type Router struct {
	dir        Directory
	isLocal    func(domain string) bool
	postmaster atomic.Pointer[string]
	hostname   atomic.Pointer[string] // lower case, no trailing dot
}

// NewRouter returns a Router. isLocal reports whether a domain is hosted
// here; postmaster is the address that receives postmaster@ mail (empty:
// the first admin account).
func NewRouter(dir Directory, isLocal func(string) bool, postmaster string) *Router {
	r := &Router{dir: dir, isLocal: isLocal}
	r.SetPostmaster(postmaster)
	return r
}

// SetPostmaster changes the address that receives postmaster@ mail (on a
// configuration reload).
func (r *Router) SetPostmaster(addr string) { r.postmaster.Store(&addr) }

// SetHostname names the server's own host name (the config's hostname),
// at which postmaster is accepted although the host name is not a mail
// domain: RFC 5321 §4.5.1 wants postmaster at every name the server
// answers to, and DSNs ask senders to write to postmaster@hostname.
func (r *Router) SetHostname(name string) {
	h := strings.ToLower(strings.TrimSuffix(name, "."))
	r.hostname.Store(&h)
}

// IsLocal reports whether domain is hosted here.
func (r *Router) IsLocal(domain string) bool { return r.isLocal(domain) }

// Resolve returns the route for rcpt. For a domain that is not local it
// returns ErrNotLocal; the caller decides whether relaying is allowed. The
// bare "postmaster" without a domain and postmaster at the server's host
// name (RFC 5321 §4.5.1, SetHostname) are accepted.
func (r *Router) Resolve(ctx context.Context, rcpt string) (Route, error) {
	if strings.EqualFold(rcpt, "postmaster") {
		return r.resolvePostmaster(ctx, map[string]bool{}, 0)
	}
	norm, err := address.Normalize(rcpt)
	if err != nil {
		return Route{}, fmt.Errorf("%w: %s", ErrUnknownUser, rcpt)
	}
	if !r.isLocal(address.Domain(norm)) {
		if h := r.hostname.Load(); h != nil && *h != "" && norm == "postmaster@"+*h {
			// Routed like postmaster of a local domain.
			return r.resolvePostmaster(ctx, map[string]bool{}, 0)
		}
		return Route{}, ErrNotLocal
	}
	var route Route
	if err := r.expand(ctx, norm, &route, map[string]bool{}, 0); err != nil {
		return Route{}, err
	}
	if len(route.Accounts) == 0 && len(route.Remote) == 0 {
		// Only possible through an alias loop that reaches no mailbox.
		return Route{}, fmt.Errorf("%w: %s leads nowhere", ErrUnknownUser, rcpt)
	}
	return route, nil
}

// expand adds the destinations of a local address to route.
func (r *Router) expand(ctx context.Context, addr string, route *Route, seen map[string]bool, depth int) error {
	if seen[addr] {
		return nil // an alias loop: every address is taken once
	}
	seen[addr] = true
	if depth > maxAliasDepth {
		return fmt.Errorf("%w: alias nesting deeper than %d at %s", ErrUnknownUser, maxAliasDepth, addr)
	}
	acct, err := r.dir.AccountByAddress(ctx, addr)
	if err == nil {
		route.addAccount(acct)
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	targets, err := r.dir.AliasTargets(ctx, addr)
	if err != nil {
		return err
	}
	if len(targets) > 0 {
		for _, t := range targets {
			if !r.isLocal(address.Domain(t)) {
				route.addRemote(t)
				continue
			}
			if err := r.expand(ctx, t, route, seen, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if base := address.Base(addr); base != addr {
		return r.expand(ctx, base, route, seen, depth)
	}
	if local, _, _ := address.Split(addr); local == "postmaster" {
		pm, err := r.resolvePostmaster(ctx, seen, depth)
		if err != nil {
			return err
		}
		route.Accounts = append(route.Accounts, pm.Accounts...)
		route.Remote = append(route.Remote, pm.Remote...)
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnknownUser, addr)
}

// resolvePostmaster routes postmaster mail (RFC 5321 §4.5.1: every domain
// must accept it) to the configured account, or to the first admin.
func (r *Router) resolvePostmaster(ctx context.Context, seen map[string]bool, depth int) (Route, error) {
	var route Route
	if pm := *r.postmaster.Load(); pm != "" {
		norm, err := address.Normalize(pm)
		if err != nil {
			return Route{}, fmt.Errorf("delivery: postmaster %q: %w", pm, err)
		}
		if !r.isLocal(address.Domain(norm)) {
			route.addRemote(norm)
			return route, nil
		}
		if err := r.expand(ctx, norm, &route, seen, depth+1); err != nil {
			return Route{}, err
		}
		return route, nil
	}
	acct, err := r.dir.FirstAdmin(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return Route{}, ErrNoPostmaster
	}
	if err != nil {
		return Route{}, err
	}
	route.addAccount(acct)
	return route, nil
}

func (rt *Route) addAccount(acct store.Account) {
	for _, a := range rt.Accounts {
		if a.ID == acct.ID {
			return
		}
	}
	rt.Accounts = append(rt.Accounts, Target{ID: acct.ID, Address: acct.Address})
}

// Target is a local account a message is delivered to.
type Target struct {
	ID      int64
	Address string // the account's address
	Rcpt    string // the recipient address that led here (set at delivery)
}

func (rt *Route) addRemote(addr string) {
	for _, a := range rt.Remote {
		if a == addr {
			return
		}
	}
	rt.Remote = append(rt.Remote, addr)
}

// MaySend reports whether an authenticated account may use from as its
// envelope sender: its own address, a subaddress of it, or an alias whose
// expansion includes it. The null sender is refused: only the server sends
// bounces.
func (r *Router) MaySend(ctx context.Context, acct store.Account, from string) (bool, error) {
	norm, err := address.Normalize(from)
	if err != nil {
		return false, nil
	}
	if norm == acct.Address || address.Base(norm) == acct.Address {
		return true, nil
	}
	if !r.isLocal(address.Domain(norm)) {
		return false, nil
	}
	var route Route
	if err := r.expand(ctx, norm, &route, map[string]bool{}, 0); err != nil {
		if errors.Is(err, ErrUnknownUser) {
			return false, nil
		}
		return false, err
	}
	return slices.ContainsFunc(route.Accounts, func(t Target) bool { return t.ID == acct.ID }), nil
}

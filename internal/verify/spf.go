package verify

import (
	"context"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
)

// SPFResult is the SPF check of the envelope (RFC 7208).
type SPFResult struct {
	Value string // none, neutral, pass, fail, softfail, temperror, permerror (§8)
	// MailFrom is the envelope sender checked; empty when it was null
	// and the HELO identity was checked instead (§2.4).
	MailFrom string
	Helo     string
	// Domain is the domain checked: MailFrom's, or Helo.
	Domain string
	Reason string
}

// spfResolver gives the SPF library the lookups in the form of
// net.Resolver's, from pail's resolver.
type spfResolver struct{ r Resolver }

func (s spfResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return s.r.LookupTXT(ctx, name)
}
func (s spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return s.r.LookupNetMX(ctx, name)
}
func (s spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return s.r.LookupIPAddr(ctx, host)
}
func (s spfResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return s.r.LookupAddr(ctx, addr)
}

// checkSPF evaluates check_host() (RFC 7208 §4) for the MAIL FROM
// identity, or for the HELO identity when MAIL FROM is null (§2.4: the
// sender is then postmaster@ the HELO name).
func (c *Checker) checkSPF(ctx context.Context, m *Message) SPFResult {
	res := SPFResult{MailFrom: m.MailFrom, Helo: m.Helo}
	sender := m.MailFrom
	if sender == "" {
		if m.Helo == "" || strings.HasPrefix(m.Helo, "[") {
			// An address literal is no domain to check (§2.3).
			res.Value, res.Reason = "none", "no domain to check"
			return res
		}
		sender = "postmaster@" + m.Helo
	}
	res.Domain = strings.ToLower(sender[strings.LastIndexByte(sender, '@')+1:])
	if !m.ClientIP.IsValid() {
		res.Value, res.Reason = "none", "no client address"
		return res
	}
	r, err := spf.CheckHostWithSender(net.IP(m.ClientIP.Unmap().AsSlice()), m.Helo, sender,
		spf.WithContext(ctx), spf.WithResolver(spfResolver{c.Resolver}))
	res.Value = string(r)
	if err != nil && r != spf.Pass {
		res.Reason = err.Error()
	}
	return res
}

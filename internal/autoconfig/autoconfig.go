// Package autoconfig describes pail's listening mail services to mail
// clients, so that a user types an address and a password and nothing
// else: Thunderbird's autoconfig XML (clientConfig 1.1), Microsoft's
// POX autodiscover answer (the "outlook" response schema), and an Apple
// configuration profile (.mobileconfig). Each names only the services
// that listen ([listen]), on the server's host name and the listener's
// port, with its TLS mode, and the full address as the user name. Handler
// serves the first two over HTTP; the webmail serves the profile to a
// logged-in user. The SRV records of RFC 6186 / RFC 8314 that say the
// same in DNS are made by package dnsrecords.
package autoconfig

import (
	"strings"

	"pail/internal/config"
)

// Protocol is a mail protocol a client speaks to pail.
type Protocol string

// The protocols of the services described: mailbox access and submission.
const (
	IMAP Protocol = "imap"
	POP3 Protocol = "pop3"
	SMTP Protocol = "smtp" // submission (RFC 6409), never the MX port
)

// Security is how a client gets TLS on a service. pail offers no service
// on which a password may be sent without TLS, so there is no plain mode.
type Security int

// The TLS modes of pail's services.
const (
	// ImplicitTLS: TLS from the first byte (RFC 8314 §3): submissions,
	// imaps, pop3s.
	ImplicitTLS Security = iota + 1
	// STARTTLS: plain greeting, then the STARTTLS (SMTP, IMAP) or STLS
	// (POP3) command before authentication (RFC 3207, RFC 9051 §6.2.1,
	// RFC 2595 §4).
	STARTTLS
)

// String returns "SSL" or "STARTTLS", Thunderbird's socketType names.
func (s Security) String() string {
	if s == ImplicitTLS {
		return "SSL"
	}
	return "STARTTLS"
}

// Service is one service a client can use.
type Service struct {
	Protocol Protocol
	Security Security
	Port     int
	// Name is the [listen] key it comes from (imaps, submission, ...).
	Name string
}

// Services are the mail services of one pail instance.
type Services struct {
	// Hostname is the host every service is reached at.
	Hostname string
	// List holds the services that listen, incoming first, each group in
	// order of preference: implicit TLS before STARTTLS (RFC 8314 §5.1),
	// IMAP before POP3.
	List []Service
}

// listenEntry is one [listen] key that names a client service.
type listenEntry struct {
	name     string
	protocol Protocol
	security Security
	addr     string
}

// listenOrder returns the [listen] keys of client services in order of
// preference, with the protocol, TLS mode and address of each. smtp (the
// MX port, 25) is absent: it takes mail from other servers, not from
// users.
func listenOrder(l config.Listen) []listenEntry {
	return []listenEntry{
		{"imaps", IMAP, ImplicitTLS, l.IMAPS},
		{"imap", IMAP, STARTTLS, l.IMAP},
		{"pop3s", POP3, ImplicitTLS, l.POP3S},
		{"pop3", POP3, STARTTLS, l.POP3},
		{"submissions", SMTP, ImplicitTLS, l.Submissions},
		{"submission", SMTP, STARTTLS, l.Submission},
	}
}

// New returns the services of l that listen, reached at hostname. A
// service is listed when its [listen] address is set (config.Listen's
// rule for which services run) and has a numeric port; that port is what
// clients are told, so l should hold the listeners' real addresses.
func New(hostname string, l config.Listen) Services {
	s := Services{Hostname: strings.ToLower(strings.TrimSuffix(hostname, "."))}
	for _, o := range listenOrder(l) {
		if port := int(config.ListenPort(o.addr)); port != 0 {
			s.List = append(s.List, Service{Protocol: o.protocol, Security: o.security, Port: port, Name: o.name})
		}
	}
	return s
}

// Incoming returns the mailbox services (IMAP, POP3) in order of
// preference.
func (s Services) Incoming() []Service {
	var out []Service
	for _, svc := range s.List {
		if svc.Protocol != SMTP {
			out = append(out, svc)
		}
	}
	return out
}

// Outgoing returns the submission services in order of preference.
func (s Services) Outgoing() []Service {
	var out []Service
	for _, svc := range s.List {
		if svc.Protocol == SMTP {
			out = append(out, svc)
		}
	}
	return out
}

// first returns the preferred service of protocol p.
func (s Services) first(p Protocol) (Service, bool) {
	for _, svc := range s.List {
		if svc.Protocol == p {
			return svc, true
		}
	}
	return Service{}, false
}

// Package config owns pail's configuration: the TOML file format, the built-in
// defaults that let `pail serve` run with no file at all, and validation that
// names the offending key when a value is wrong.
//
// The keys documented in DESIGN.md's "Configuration contract" are a contract
// with outside scripts; keys may be added but never renamed.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"pail/internal/sqldb"
)

// Default listen addresses: unprivileged ports so a fresh checkout runs as
// any user (DESIGN.md, "Configuration contract").
const (
	DefaultSMTP        = "127.0.0.1:2525"
	DefaultSubmission  = "127.0.0.1:2587"
	DefaultSubmissions = "127.0.0.1:2465"
	DefaultPOP3        = "127.0.0.1:2110"
	DefaultPOP3S       = "127.0.0.1:2995"
	DefaultIMAP        = "127.0.0.1:2143"
	DefaultIMAPS       = "127.0.0.1:2993"
	DefaultHTTP        = "127.0.0.1:8080"
	// DefaultManageSieve is ManageSieve's registered port (RFC 5804 §1.8),
	// unprivileged already, on loopback.
	DefaultManageSieve = "127.0.0.1:4190"
)

// Config is the whole configuration of one pail instance.
type Config struct {
	// Hostname is the name in SMTP greetings and Received headers.
	Hostname string `toml:"hostname"`
	// Domains are the mail domains delivered locally (lower case).
	Domains []string `toml:"domains"`
	// DataDir holds the database, message files, spool and certificates.
	DataDir string `toml:"data_dir"`
	// Store, when set, is the PostgreSQL server (a postgres:// or
	// postgresql:// URL) that holds the mail store and the outgoing
	// queue instead of the SQLite files in DataDir, so that several
	// pail serve processes can share it; DataDir still holds this
	// node's certificates and spool files. Empty (the default) is the
	// embedded SQLite store.
	Store string `toml:"store"`
	// Postmaster is the account that receives mail for postmaster@ every
	// local domain; empty means the first admin account.
	Postmaster string `toml:"postmaster"`
	// Resolver ("host:port") is the DNS server every lookup pail makes
	// goes to (MX, A/AAAA, TLSA, TXT, PTR); empty means the name servers
	// of /etc/resolv.conf. outbound.resolver is a synonym kept for
	// configurations written before this key; Validate copies it here.
	Resolver string `toml:"resolver"`

	Listen   Listen   `toml:"listen"`
	TLS      TLS      `toml:"tls"`
	Limits   Limits   `toml:"limits"`
	Outbound Outbound `toml:"outbound"`
	Log      Log      `toml:"log"`
	// DNS is the authoritative name server; off unless dns.listen is set.
	DNS DNS `toml:"dns"`
	// Proxy is the web cache; off unless proxy.listen is set.
	Proxy Proxy `toml:"proxy"`
	// DKIM configures the signing of outgoing mail; on by default.
	DKIM DKIM `toml:"dkim"`
	// ACME obtains certificates from an ACME directory; off by default.
	ACME ACME `toml:"acme"`
	// MTASTS is the MTA-STS policy served for the local domains.
	MTASTS MTASTS `toml:"mta_sts"`
	// TLSRPT configures SMTP TLS reporting (RFC 8460); on by default.
	TLSRPT TLSRPT `toml:"tlsrpt"`
	// DMARC configures DMARC aggregate reports (RFC 7489 §7.2); sending
	// is off by default.
	DMARC DMARC `toml:"dmarc"`
	// Doctor configures the checks of `pail doctor`.
	Doctor Doctor `toml:"doctor"`
	// Spam configures the spam filter (rspamd); off by default.
	Spam Spam `toml:"spam"`
	// Inbound holds the checks on mail arriving on the MX port: blocklists,
	// greylisting, SPF/DKIM/DMARC and the DMARC policy.
	Inbound Inbound `toml:"inbound"`
	// Sieve bounds users' Sieve scripts and what they may do.
	Sieve Sieve `toml:"sieve"`
}

// DKIM configures the DKIM signing of mail queued for other servers
// (package dkim): every local domain's mail is signed unless turned off
// here.
type DKIM struct {
	// Enabled turns signing on for every local domain (default true);
	// a domain's own enabled setting takes precedence.
	Enabled bool `toml:"enabled"`
	// Domains holds per-domain settings, keyed by local domain.
	Domains map[string]DKIMDomain `toml:"domains"`
}

// DKIMDomain is one local domain's DKIM settings.
type DKIMDomain struct {
	// Enabled, when set, turns signing on or off for the domain.
	Enabled *bool `toml:"enabled"`
	// Selectors, when not empty, are the selectors that sign the
	// domain's mail instead of its active ones (pail dkim list shows
	// them; each must exist).
	Selectors []string `toml:"selectors"`
}

// SignsFor reports whether mail from domain is to be signed.
func (d DKIM) SignsFor(domain string) bool {
	if dd, ok := d.Domains[strings.ToLower(domain)]; ok && dd.Enabled != nil {
		return *dd.Enabled
	}
	return d.Enabled
}

// SelectorsFor returns the selectors configured for domain, nil for the
// active ones.
func (d DKIM) SelectorsFor(domain string) []string {
	return d.Domains[strings.ToLower(domain)].Selectors
}

// ListenPort returns the port of a listen address, 0 when the service is
// off ("") or the address has no numeric port.
func ListenPort(addr string) uint16 {
	if addr == "" {
		return 0
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0
	}
	return uint16(n)
}

// Listen lists the services that run and their addresses. When the [listen]
// table is present in the file, exactly the services named there run; an
// empty address means the service is off.
type Listen struct {
	SMTP        string `toml:"smtp"`
	Submission  string `toml:"submission"`
	Submissions string `toml:"submissions"`
	POP3        string `toml:"pop3"`
	POP3S       string `toml:"pop3s"`
	IMAP        string `toml:"imap"`
	IMAPS       string `toml:"imaps"`
	// Metrics serves Prometheus metrics at /metrics and a status page at
	// /status; off by default. (The same is always served on the unix
	// socket pail.sock in the data directory, for `pail status`.)
	Metrics string `toml:"metrics"`
	HTTP    string `toml:"http"`
	// HTTPS serves the web pages over TLS with the [tls] certificate.
	// It has no default: set it to turn HTTPS on.
	HTTPS string `toml:"https"`
	// ManageSieve is the RFC 5804 service that uploads Sieve scripts
	// (4190 in production).
	ManageSieve string `toml:"managesieve"`
}

// TLS names the certificate files. Both empty means a self-signed
// certificate kept in the data directory.
type TLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// Limits bounds what one client can make the server do.
type Limits struct {
	// MaxMessageBytes is the largest message accepted (SIZE, RFC 1870).
	MaxMessageBytes int64 `toml:"max_message_bytes"`
	// QuotaBytes is the storage quota in octets of each account without
	// one of its own (pail user quota; 0: none): the sum of its message
	// sizes past which delivery answers 452 4.2.2 and IMAP APPEND and
	// COPY NO [OVERQUOTA] (RFC 9208).
	QuotaBytes int64 `toml:"quota_bytes"`
	// MaxRecipients is the most RCPT commands accepted per transaction.
	MaxRecipients int `toml:"max_recipients"`
	// MaxConnections caps concurrent connections per service.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerIP caps concurrent connections from one address.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	// ConnectionRatePerIP caps new connections per minute from one
	// address, per service (0: no limit). Loopback is exempt.
	ConnectionRatePerIP int `toml:"connection_rate_per_ip"`
	// CommandRatePerIP caps MAIL, RCPT and AUTH commands per minute from
	// one address (0: no limit). Loopback is exempt.
	CommandRatePerIP int `toml:"command_rate_per_ip"`
	// CommandTimeout is how long a session may stay silent between
	// commands before it is closed (RFC 5321 §4.5.3.2.7: at least 5 minutes).
	CommandTimeout Duration `toml:"command_timeout"`
	// DataTimeout bounds the wait for each block of message data
	// (RFC 5321 §4.5.3.2.6: 3 minutes per block).
	DataTimeout Duration `toml:"data_timeout"`
	// GreetDelay, when set, holds the SMTP greeting back this long on the
	// MX port; a client that talks before it is rejected as a pre-greeting
	// talker (a common sign of spam software).
	GreetDelay Duration `toml:"greet_delay"`
	// LoginFailuresPerAddress is how many failed logins (attempts in
	// progress included) one client address may have within 15 minutes;
	// past it, its logins are refused unchecked.
	LoginFailuresPerAddress int `toml:"login_failures_per_address"`
	// LoginFailuresPerAccount failed logins for one account within 15
	// minutes, from any addresses, put it under attack: addresses that are
	// not its known places then share LoginSuspectAttemptsPerMinute
	// attempts at it once their network's allowance is spent.
	LoginFailuresPerAccount int `toml:"login_failures_per_account"`
	// LoginSuspectAttemptsPerMinute is the rate, per account under attack,
	// of attempts from addresses that are not its known places, past
	// their network's allowance.
	LoginSuspectAttemptsPerMinute int `toml:"login_suspect_attempts_per_minute"`
	// LoginIPv6Prefix and LoginIPv4Prefix are the prefix lengths counted
	// as one client address by the login limits.
	LoginIPv6Prefix int `toml:"login_ipv6_prefix"`
	LoginIPv4Prefix int `toml:"login_ipv4_prefix"`
	// TrustedProxies are the addresses or prefixes of reverse proxies in
	// front of the webmail whose X-Forwarded-For names the client (none
	// by default: the client is the connection's peer).
	TrustedProxies []string `toml:"trusted_proxies"`
	// TrustedProxyPrefixes are TrustedProxies parsed (by Validate).
	TrustedProxyPrefixes []netip.Prefix `toml:"-"`
}

// Outbound configures delivery to other servers.
type Outbound struct {
	// Smarthost ("host:port") relays all outgoing mail through one server.
	Smarthost string `toml:"smarthost"`
	// SmarthostUsername and SmarthostPassword authenticate to the smarthost.
	SmarthostUsername string `toml:"smarthost_username"`
	SmarthostPassword string `toml:"smarthost_password"`
	// Resolver is the older name of the top-level resolver key; setting
	// both to different servers is an error.
	Resolver string `toml:"resolver"`
	// Source, when set, is the IP address outgoing SMTP connections are
	// made from: the address in the domains' SPF records and with the PTR
	// record naming the host. EHLO then names the host whose address it
	// is (see Outbound.EHLOName in package server).
	Source string `toml:"source"`
	// Routes maps a domain to a static next hop ("host:port").
	Routes map[string]string `toml:"routes"`
	// Port is the TCP port remote MX servers are contacted on: 25, the
	// SMTP port, in the real world; other values serve tests and unusual
	// set-ups. Routes and Smarthost carry their own ports.
	Port int `toml:"port"`
	// QueueLifetime is how long a message is retried before it bounces.
	QueueLifetime Duration `toml:"queue_lifetime"`
	// DANE (default true) authenticates MX hosts by their TLSA records
	// when the resolver validates DNSSEC (RFC 7672); it does nothing
	// with a resolver that does not.
	DANE bool `toml:"dane"`
	// MTASTS (default true) looks up and applies receivers' MTA-STS
	// policies (RFC 8461).
	MTASTS bool `toml:"mta_sts"`
}

// Log configures the logs.
type Log struct {
	// Level is the debug log level: debug, info, warn or error.
	Level string `toml:"level"`
	// Format is the debug log format: text or json.
	Format string `toml:"format"`
	// MailFile receives the mail log, one line per mail event; empty means
	// standard error.
	MailFile string `toml:"mail_file"`
}

// Duration is a time.Duration written in TOML as a string like "5m", or
// a whole number of days like "35d".
type Duration struct{ time.Duration }

// maxDays bounds a duration in days (time.Duration holds some 290 years).
const maxDays = 36500

// UnmarshalText parses a Go duration string, or a number of days.
func (d *Duration) UnmarshalText(b []byte) error {
	if days, ok := strings.CutSuffix(string(b), "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= maxDays {
			d.Duration = time.Duration(n) * 24 * time.Hour
			return nil
		}
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (like \"90m\", \"1h30m\" or, in whole days, \"35d\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the built-in configuration used when no file is given.
func Default() *Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Config{
		Hostname: host,
		Domains:  []string{"localhost"},
		DataDir:  "pail-data",
		Listen: Listen{
			SMTP:        DefaultSMTP,
			Submission:  DefaultSubmission,
			Submissions: DefaultSubmissions,
			POP3:        DefaultPOP3,
			POP3S:       DefaultPOP3S,
			IMAP:        DefaultIMAP,
			IMAPS:       DefaultIMAPS,
			HTTP:        DefaultHTTP,
			ManageSieve: DefaultManageSieve,
		},
		Limits: Limits{
			MaxMessageBytes:     25 << 20,
			MaxRecipients:       100,
			MaxConnections:      5000,
			MaxConnectionsPerIP: 50,
			ConnectionRatePerIP: 300,
			CommandRatePerIP:    1200,
			CommandTimeout:      Duration{5 * time.Minute},
			DataTimeout:         Duration{3 * time.Minute},

			LoginFailuresPerAddress:       20,
			LoginFailuresPerAccount:       10,
			LoginSuspectAttemptsPerMinute: 6,
			LoginIPv6Prefix:               64,
			LoginIPv4Prefix:               32,
		},
		Outbound: Outbound{Port: 25, QueueLifetime: Duration{5 * 24 * time.Hour}, DANE: true, MTASTS: true},
		Log:      Log{Level: "info", Format: "text"},
		DNS:      defaultDNS(),
		Proxy:    DefaultProxy(),
		DKIM:     DKIM{Enabled: true},
		ACME:     defaultACME(),
		MTASTS:   MTASTS{MaxAge: DefaultMTASTSMaxAge},
		TLSRPT:   TLSRPT{Enabled: true},
		Spam:     Spam{RspamdController: DefaultRspamdController, Timeout: Duration{DefaultSpamTimeout}},
		Inbound:  defaultInbound(),
		Sieve:    defaultSieve(),
	}
}

// Load reads the TOML file at path over the defaults and validates the
// result. An empty path returns the validated defaults.
func Load(path string) (*Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, cfg.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.parse(string(data)); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parse decodes TOML text over cfg, rejecting unknown keys: keys that
// match no field's toml name exactly, case included.
func (cfg *Config) parse(text string) error {
	// The names first, before any value is decoded into a field: a key
	// that names no field must be reported as such, not as a value of the
	// wrong type for a field it resembles. Keys are case-sensitive, at
	// every depth (README, "Configuration").
	var raw map[string]any
	md, err := toml.Decode(text, &raw)
	if err != nil {
		return parseError(err)
	}
	if err := unknownKeys(md, text, cfg); err != nil {
		return err
	}
	listenDefaults := cfg.Listen
	cfg.Listen = Listen{}
	if md, err = toml.Decode(text, cfg); err != nil {
		return parseError(err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return fmt.Errorf("unknown key %q", strings.Join(keys, `", "`))
	}
	if !md.IsDefined("listen") {
		cfg.Listen = listenDefaults
	}
	if md.IsDefined("doctor", "dnsbl") && cfg.Doctor.DNSBL == nil {
		// Set, if to no list: it overrides [inbound] dnsbl
		// (DoctorDNSBL), which nil stands for.
		cfg.Doctor.DNSBL = []string{}
	}
	return nil
}

// parseError returns err of toml.Decode, with the line shown when it has
// a position.
func parseError(err error) error {
	var perr toml.ParseError
	if errors.As(err, &perr) {
		return fmt.Errorf("%s", perr.ErrorWithPosition())
	}
	return err
}

// Validate checks every value and normalises domains to lower case. The
// error names the offending key.
func (cfg *Config) Validate() error {
	if cfg.Hostname == "" {
		return errors.New("hostname: must not be empty")
	}
	if !validDomain(cfg.Hostname) {
		return fmt.Errorf("hostname: %q is not a valid host name", cfg.Hostname)
	}
	if len(cfg.Domains) == 0 {
		return errors.New("domains: at least one domain is required")
	}
	for i, d := range cfg.Domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if !validDomain(d) {
			return fmt.Errorf("domains: %q is not a valid domain name", cfg.Domains[i])
		}
		cfg.Domains[i] = d
	}
	if cfg.DataDir == "" {
		return errors.New("data_dir: must not be empty")
	}
	if cfg.Store != "" && !sqldb.IsURL(cfg.Store) {
		return errors.New("store: not a postgres:// or postgresql:// URL (leave it out for the SQLite store in data_dir)")
	}
	if len(cfg.DKIM.Domains) > 0 {
		doms := make(map[string]DKIMDomain, len(cfg.DKIM.Domains))
		for d, dd := range cfg.DKIM.Domains {
			n := strings.ToLower(strings.TrimSuffix(d, "."))
			if !slices.Contains(cfg.Domains, n) {
				return fmt.Errorf("dkim.domains: %q is not one of the local domains", d)
			}
			doms[n] = dd
		}
		cfg.DKIM.Domains = doms
	}
	if cfg.Postmaster != "" && !strings.Contains(cfg.Postmaster, "@") {
		return fmt.Errorf("postmaster: %q is not an address", cfg.Postmaster)
	}
	for _, l := range cfg.Listen.entries() {
		if *l.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(*l.addr); err != nil {
			return fmt.Errorf("listen.%s: %q is not host:port", l.name, *l.addr)
		}
	}
	if (cfg.TLS.Cert == "") != (cfg.TLS.Key == "") {
		return errors.New("tls: cert and key must be given together")
	}
	lim := cfg.Limits
	switch {
	case lim.MaxMessageBytes <= 0:
		return fmt.Errorf("limits.max_message_bytes: %d must be positive", lim.MaxMessageBytes)
	case lim.MaxRecipients <= 0:
		return fmt.Errorf("limits.max_recipients: %d must be positive", lim.MaxRecipients)
	case lim.QuotaBytes < 0:
		return fmt.Errorf("limits.quota_bytes: %d must not be negative", lim.QuotaBytes)
	case lim.MaxConnections <= 0:
		return fmt.Errorf("limits.max_connections: %d must be positive", lim.MaxConnections)
	case lim.MaxConnectionsPerIP <= 0:
		return fmt.Errorf("limits.max_connections_per_ip: %d must be positive", lim.MaxConnectionsPerIP)
	case lim.ConnectionRatePerIP < 0:
		return fmt.Errorf("limits.connection_rate_per_ip: %d must not be negative", lim.ConnectionRatePerIP)
	case lim.CommandRatePerIP < 0:
		return fmt.Errorf("limits.command_rate_per_ip: %d must not be negative", lim.CommandRatePerIP)
	case lim.CommandTimeout.Duration <= 0:
		return fmt.Errorf("limits.command_timeout: %s must be positive", lim.CommandTimeout)
	case lim.DataTimeout.Duration <= 0:
		return fmt.Errorf("limits.data_timeout: %s must be positive", lim.DataTimeout)
	case lim.GreetDelay.Duration < 0 || lim.GreetDelay.Duration > time.Minute:
		return fmt.Errorf("limits.greet_delay: %s must be between 0s and 1m", lim.GreetDelay)
	case lim.LoginFailuresPerAddress <= 0:
		return fmt.Errorf("limits.login_failures_per_address: %d must be positive", lim.LoginFailuresPerAddress)
	case lim.LoginFailuresPerAccount <= 0:
		return fmt.Errorf("limits.login_failures_per_account: %d must be positive", lim.LoginFailuresPerAccount)
	case lim.LoginSuspectAttemptsPerMinute <= 0:
		return fmt.Errorf("limits.login_suspect_attempts_per_minute: %d must be positive", lim.LoginSuspectAttemptsPerMinute)
	case lim.LoginIPv6Prefix < 1 || lim.LoginIPv6Prefix > 128:
		return fmt.Errorf("limits.login_ipv6_prefix: %d must be between 1 and 128", lim.LoginIPv6Prefix)
	case lim.LoginIPv4Prefix < 1 || lim.LoginIPv4Prefix > 32:
		return fmt.Errorf("limits.login_ipv4_prefix: %d must be between 1 and 32", lim.LoginIPv4Prefix)
	}
	cfg.Limits.TrustedProxyPrefixes = nil
	for _, t := range lim.TrustedProxies {
		p, err := parsePrefix(t)
		if err != nil {
			return fmt.Errorf("limits.trusted_proxies: %q is not an address or a prefix", t)
		}
		cfg.Limits.TrustedProxyPrefixes = append(cfg.Limits.TrustedProxyPrefixes, p)
	}
	ob := cfg.Outbound
	switch {
	case ob.Resolver != "" && cfg.Resolver != "" && ob.Resolver != cfg.Resolver:
		return fmt.Errorf("outbound.resolver: %q differs from resolver %q; set only resolver", ob.Resolver, cfg.Resolver)
	case ob.Resolver != "":
		cfg.Resolver = ob.Resolver
	}
	if ob.Source != "" {
		a, err := netip.ParseAddr(ob.Source)
		if err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			return fmt.Errorf("outbound.source: %q is not a unicast IP address", ob.Source)
		}
	}
	for key, v := range map[string]string{"outbound.smarthost": ob.Smarthost, "resolver": cfg.Resolver} {
		if v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("%s: %q is not host:port", key, v)
		}
	}
	for dom, hop := range ob.Routes {
		if !validDomain(strings.ToLower(dom)) {
			return fmt.Errorf("outbound.routes: %q is not a valid domain name", dom)
		}
		if _, _, err := net.SplitHostPort(hop); err != nil {
			return fmt.Errorf("outbound.routes.%s: %q is not host:port", dom, hop)
		}
	}
	if ob.Port < 1 || ob.Port > 65535 {
		return fmt.Errorf("outbound.port: %d must be between 1 and 65535", ob.Port)
	}
	if ob.QueueLifetime.Duration <= 0 {
		return fmt.Errorf("outbound.queue_lifetime: %s must be positive", ob.QueueLifetime)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, cfg.Log.Level) {
		return fmt.Errorf("log.level: %q must be debug, info, warn or error", cfg.Log.Level)
	}
	if cfg.Log.Format != "text" && cfg.Log.Format != "json" {
		return fmt.Errorf("log.format: %q must be text or json", cfg.Log.Format)
	}
	if err := cfg.DNS.Validate(); err != nil {
		return err
	}
	if err := cfg.validateTLSA(); err != nil {
		return err
	}
	if cfg.DNS.KeyDir == "" {
		cfg.DNS.KeyDir = filepath.Join(cfg.DataDir, "dnssec")
	}
	if err := cfg.Proxy.validate(); err != nil {
		return err
	}
	if err := cfg.ACME.validate(cfg); err != nil {
		return err
	}
	if err := cfg.MTASTS.validate(); err != nil {
		return err
	}
	if err := cfg.TLSRPT.validate(cfg); err != nil {
		return err
	}
	if err := cfg.DMARC.validate(cfg); err != nil {
		return err
	}
	if err := cfg.Doctor.validate(); err != nil {
		return err
	}
	if err := cfg.Spam.validate(); err != nil {
		return err
	}
	if err := cfg.Sieve.validate(); err != nil {
		return err
	}
	if err := cfg.Inbound.validate(); err != nil {
		return err
	}
	return nil
}

// IsLocalDomain reports whether mail for domain is delivered here.
func (cfg *Config) IsLocalDomain(domain string) bool {
	return slices.Contains(cfg.Domains, strings.ToLower(strings.TrimSuffix(domain, ".")))
}

// ListenEntry is one service and its address.
type ListenEntry struct {
	Name string
	Addr string
}

// Services lists the services that have an address, in a fixed order.
func (l Listen) Services() []ListenEntry {
	var out []ListenEntry
	for _, e := range l.entries() {
		if *e.addr != "" {
			out = append(out, ListenEntry{Name: e.name, Addr: *e.addr})
		}
	}
	return out
}

type listenRef struct {
	name string
	addr *string
}

func (l *Listen) entries() []listenRef {
	return []listenRef{
		{"smtp", &l.SMTP}, {"submission", &l.Submission}, {"submissions", &l.Submissions},
		{"pop3", &l.POP3}, {"pop3s", &l.POP3S}, {"imap", &l.IMAP}, {"imaps", &l.IMAPS},
		{"http", &l.HTTP}, {"metrics", &l.Metrics}, {"https", &l.HTTPS},
		{"managesieve", &l.ManageSieve},
	}
}

// validDomain reports whether s is a syntactically valid DNS name
// (RFC 1035 §2.3.1 letters, digits, hyphens; RFC 1123 allows leading digits).
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// parsePrefix parses an address ("192.0.2.1", a /32 or /128) or a prefix
// ("10.0.0.0/8"), masked.
func parsePrefix(s string) (netip.Prefix, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"pail/internal/admin"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"

	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/dnsrecords"
	"pail/internal/safeio"
	"pail/internal/store"
)

// Modes of what pail setup creates: the configuration and the directories
// are the server user's alone (the config may later hold the smarthost
// password; the data directory holds every mailbox and the DKIM keys).
const (
	setupConfigMode = 0o600
	setupDirMode    = 0o700
)

// The layout pail setup makes inside DIR.
const (
	setupConfigName = "pail.toml"
	setupDataName   = "data"
	setupLogName    = "log"
	setupMailLog    = "mail.log"
)

// setupNames is the IDNA profile domain and host names given to pail
// setup are checked and converted with: UTS #46 mapping for lookup (RFC
// 5891 §5: upper case folded, full-width dots mapped), the label rules of
// RFC 5891 §5.4 (hyphens, normalisation, joiners), the Bidi rule (RFC
// 5893), STD3 ASCII rules (RFC 1123 §2.1 letters, digits, hyphens: no
// spaces, slashes, colons or underscores) and the lengths of RFC 1035
// §2.3.4 (labels of 63 octets, names of 253).
var setupNames = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.Transitional(false))

// setupName returns the name s (a domain or a host name) in its ASCII
// form for the configuration, or why it cannot be a mail domain on the
// Internet. One trailing dot (the fully qualified form) is allowed.
func setupName(s string) (string, error) {
	if s == "" {
		return "", errors.New("is empty")
	}
	if strings.HasPrefix(s, "[") || net.ParseIP(s) != nil {
		return "", errors.New("is an IP address: give a domain name (mail for an address literal has no MX to find)")
	}
	a, err := setupNames.ToASCII(strings.TrimSuffix(s, "."))
	if err != nil {
		return "", fmt.Errorf("is not a valid domain name: %w", err)
	}
	labels := strings.Split(a, ".")
	if slices.Contains(labels, "") {
		// The profile lets one trailing dot through; a second is an
		// empty label (RFC 1035 §2.3.1).
		return "", errors.New("is not a valid domain name: it has an empty label")
	}
	switch last := labels[len(labels)-1]; {
	case last == "localhost":
		return "", errors.New("is a localhost name, which only ever means this machine (RFC 6761 §6.3)")
	case last == "invalid":
		return "", errors.New("is under .invalid, which never resolves (RFC 6761 §6.4)")
	case strings.Trim(last, "0123456789") == "":
		// RFC 3696 §2: a top-level domain is never all-numeric, so
		// this is an IPv4 address, whole or in part.
		return "", errors.New("ends in a numeric label: that is an IP address, not a domain name")
	case len(labels) < 2:
		return "", errors.New("has a single label: a domain on the Internet has at least two (like hill.com)")
	}
	return a, nil
}

// setupPlan is what pail setup makes, all under one directory.
type setupPlan struct {
	Domain   string // ASCII form
	Hostname string // ASCII form
	Dir      string // absolute
	Config   string // Dir/pail.toml
	DataDir  string // Dir/data
	LogDir   string // Dir/log
	MailLog  string // Dir/log/mail.log
	Created  string // date, for the file's first comment
}

func newSetupPlan(domain, host, dir string, now time.Time) setupPlan {
	return setupPlan{
		Domain:   domain,
		Hostname: host,
		Dir:      dir,
		Config:   filepath.Join(dir, setupConfigName),
		DataDir:  filepath.Join(dir, setupDataName),
		LogDir:   filepath.Join(dir, setupLogName),
		MailLog:  filepath.Join(dir, setupLogName, setupMailLog),
		Created:  now.UTC().Format(time.DateOnly),
	}
}

// refuseExisting returns why the plan must not be carried out: DIR holds
// a configuration already, or a data directory with something in it
// (another installation, whose store a fresh postmaster would join).
func (p setupPlan) refuseExisting() error {
	if fi, err := os.Stat(p.Dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("setup: %s is not a directory", p.Dir)
	}
	if _, err := os.Lstat(p.Config); err == nil {
		return fmt.Errorf("setup: %s already holds a configuration (%s); pail setup never overwrites one: remove it first, or give another --dir", p.Dir, p.Config)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("setup: %w", err)
	}
	ents, err := os.ReadDir(p.DataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("setup: data directory: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("setup: %s is not empty (the data of another installation?); pail setup starts only with an empty or missing data directory", p.DataDir)
	}
	return nil
}

// setupConfigTemplate is the production configuration pail setup writes.
// Every key in it is one config.Load knows (the tests load it).
var setupConfigTemplate = template.Must(template.New("pail.toml").Funcs(template.FuncMap{"q": tomlString}).Parse(`# pail configuration for the mail domain {{.Domain}}, written by
# ` + "`pail setup`" + ` on {{.Created}}. Every key is described in README.md,
# "Configuration". Unknown keys and bad values stop pail serve with a message
# that names the key. SIGHUP (systemctl reload pail) applies domains,
# postmaster, the log level and certificate files without a restart; the rest
# needs one.

# The server's name: in SMTP greetings, Received headers, the MX record and
# the certificates. It must resolve (A, and AAAA if there is IPv6) to this
# server, and the PTR record of the address pail sends from must name it.
hostname = {{q .Hostname}}

# The mail domains delivered here. For another domain, add it here and
# publish what ` + "`pail dns-records DOMAIN`" + ` prints.
domains = [{{q .Domain}}]

# Accounts, mailboxes, the outgoing queue, DKIM keys and ACME certificates.
# It belongs to the user pail serve runs as, and only that user may read it.
data_dir = {{q .DataDir}}

# The account that gets postmaster@ every domain (and DMARC and TLS reports);
# "" means the first admin account: postmaster@{{.Domain}}, made by pail setup.
postmaster = ""

# The services that run, on every address of the host (":25" is IPv4 and
# IPv6). A service left out or set to "" does not start. Ports below 1024
# need root or CAP_NET_BIND_SERVICE (contrib/pail.service grants it).
[listen]
smtp        = ":25"    # MX: mail from other servers; must be open inbound
submission  = ":587"   # mail programs send here: STARTTLS, then AUTH
submissions = ":465"   # the same with implicit TLS (RFC 8314)
imap        = ":143"   # IMAP, STARTTLS
imaps       = ":993"   # IMAP with implicit TLS
pop3        = ":110"   # POP3, STLS
pop3s       = ":995"   # POP3 with implicit TLS
http        = ":80"    # webmail; the CA's HTTP-01 challenge
https       = ":443"   # webmail over TLS, the MTA-STS policy, the CA's TLS-ALPN-01 challenge
managesieve = ":4190"  # ManageSieve (RFC 5804): mail programs upload Sieve filters, STARTTLS

# Certificate files from elsewhere. Both empty: pail makes a self-signed
# certificate in data_dir/tls and serves it until ACME has real ones.
[tls]
cert = ""
key  = ""

# Certificates from Let's Encrypt (RFC 8555), obtained at start for the host
# name and mta-sts. and autoconfig. of every domain (each must resolve to this
# server, with ports 80 and 443 open), kept in data_dir/acme and renewed
# before they expire. Enabling it accepts the CA's terms of service.
[acme]
enabled   = true
directory = "https://acme-v02.api.letsencrypt.org/directory"
email     = {{q (print "postmaster@" .Domain)}}   # the contact address given to the CA
# hosts   = []   # default: the names above

# DKIM signatures on mail to other servers; the keys are in data_dir/dkim and
# their TXT records are printed by pail dns-records.
[dkim]
enabled = true

# The MTA-STS policy served at https://mta-sts.{{.Domain}}/ (RFC 8461). It
# starts in testing mode: senders report TLS failures (to the TLS-RPT address)
# but still deliver. Once pail doctor is clean and the reports show no
# failures, set mode = "enforce", restart, and publish the new _mta-sts
# record that pail dns-records prints (the policy's id changes with it).
[mta_sts]
mode    = "testing"
max_age = 604800       # a week, in seconds

# Daily TLS reports (RFC 8460) to the domains that ask for them.
[tlsrpt]
enabled = true

# Outbound delivery: direct to each domain's MX on port 25. On a host with
# several addresses, name the one to send from (the one in SPF and PTR):
[outbound]
# source = "192.0.2.25"

# The mail log (one line per message received, delivered, deferred or
# bounced) goes to mail_file; the debug log goes to standard error (the
# journal, under systemd).
[log]
level     = "info"
format    = "text"
mail_file = {{q .MailLog}}
`))

// tomlString quotes s as a TOML basic string (TOML 1.0, "String"):
// quotation mark and backslash escaped, control characters as \uXXXX.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// setupConfigText returns the configuration file for p.
func setupConfigText(p setupPlan) ([]byte, error) {
	var b strings.Builder
	if err := setupConfigTemplate.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	return []byte(b.String()), nil
}

// cmdSetup is `pail setup DOMAIN [--hostname HOST] [--dir DIR]`: a
// production configuration, the data directory with the admin account
// postmaster@DOMAIN and its DKIM keys, then the DNS records to publish
// and what else to do. It asks nothing, and refuses to touch a directory
// that holds a configuration.
func cmdSetup(e *env, args []string) error {
	flags := flag.NewFlagSet("setup", flag.ContinueOnError)
	hostFlag := flags.String("hostname", "", "the server's host `name` (default mx.DOMAIN)")
	dirFlag := flags.String("dir", ".", "the `directory` that gets pail.toml, data/ and log/")
	pos, err := e.parseFlags(flags, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "setup DOMAIN [--hostname HOST] [--dir DIR]"); err != nil {
		return err
	}
	domain, err := setupName(pos[0])
	if err != nil {
		return fmt.Errorf("setup: domain %q %w", pos[0], err)
	}
	host := "mx." + domain
	if *hostFlag != "" {
		if host, err = setupName(*hostFlag); err != nil {
			return fmt.Errorf("setup: --hostname %q %w", *hostFlag, err)
		}
	}
	dir, err := filepath.Abs(*dirFlag)
	if err != nil {
		return fmt.Errorf("setup: --dir: %w", err)
	}
	p := newSetupPlan(domain, host, dir, time.Now())
	if err := p.refuseExisting(); err != nil {
		return err
	}
	text, err := setupConfigText(p)
	if err != nil {
		return err
	}

	// Run as root on a directory another user owns (made for the service
	// user, as contrib/pail.service shows), act as that user, as every
	// admin command does, so that everything made belongs to the server.
	asRoot := os.Geteuid() == 0
	if err := becomeDataOwner(p.Dir); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if err := safeio.MkdirAll(p.Dir, setupDirMode); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	// The configuration first, created only if it is not there (a second
	// pail setup racing this one is refused here); then the rest.
	if err := safeio.WriteNew(p.Config, text, setupConfigMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("setup: %s already holds a configuration (%s); pail setup never overwrites one", p.Dir, p.Config)
		}
		return fmt.Errorf("setup: %w", err)
	}
	password, err := p.populate(e)
	if err != nil {
		return fmt.Errorf("setup: %w (%s was written: remove it and %s to start again)", err, p.Config, p.DataDir)
	}
	return p.report(e, pos[0], password, asRoot)
}

// populate makes what the configuration at p.Config names: the log
// directory, the store with the admin account postmaster@DOMAIN and a
// fresh password, which it returns, and the domain's DKIM keys.
func (p setupPlan) populate(e *env) (string, error) {
	cfg, err := config.Load(p.Config)
	if err != nil {
		return "", fmt.Errorf("the configuration written does not load: %w", err)
	}
	if err := safeio.MkdirAll(p.LogDir, setupDirMode); err != nil {
		return "", err
	}
	st, err := store.OpenConfigured(e.ctx, cfg.DataDir, cfg.Store)
	if err != nil {
		return "", err
	}
	defer st.Close()
	// At least 128 random bits in 26 letters and digits (RFC 4648 base32):
	// beyond guessing, and typeable into a phone.
	password := rand.Text()
	a := &admin.Admin{Store: st, Config: func() *config.Config { return cfg }}
	if _, err := a.AddAccount(e.ctx, "postmaster@"+p.Domain, password, true); err != nil {
		return "", err
	}
	keys, err := dkim.Open(dkim.DirIn(cfg.DataDir), nil)
	if err != nil {
		return "", err
	}
	if _, err := keys.Ensure(p.Domain); err != nil {
		return "", err
	}
	return password, st.Close()
}

// report prints what pail setup made, the one sight of the password, the
// DNS records (those of pail dns-records) and the checklist.
func (p setupPlan) report(e *env, given, password string, asRoot bool) error {
	cfg, err := config.Load(p.Config)
	if err != nil {
		return err
	}
	keys, err := dkim.Open(dkim.DirIn(cfg.DataDir), nil)
	if err != nil {
		return err
	}
	w := e.stdout
	c := "-c " + shellWord(p.Config)
	fmt.Fprintf(w, "pail setup: %s, served by %s\n", p.Domain, p.Hostname)
	if given = strings.ToLower(strings.TrimSuffix(given, ".")); given != p.Domain {
		fmt.Fprintf(w, "  (%s is written %s in DNS and in the configuration)\n", given, p.Domain)
	}
	fmt.Fprintf(w, "  configuration  %s\n  data           %s\n  mail log       %s\n\n", p.Config, p.DataDir, p.MailLog)
	fmt.Fprintf(w, "admin account:   postmaster@%s\n", p.Domain)
	fmt.Fprintf(w, "password:        %s\n", password)
	fmt.Fprintf(w, "  (shown only this once; pail %s user passwd postmaster@%s sets another)\n\n", c, p.Domain)
	rrs, err := writeDNSRecords(w, cfg, keys, p.Domain)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, `
Next:
 1. Publish the records above in the zone of %[1]s,
    and an A record (and AAAA, with IPv6) for %[2]s
    with this server's address.
`, p.Domain, p.Hostname)
	if hosts := unpublishedACMEHosts(cfg, rrs); len(hosts) > 0 {
		fmt.Fprintln(w, "    [acme] also gets certificates for these names, so publish:")
		for _, h := range hosts {
			cname := &dns.CNAME{Hdr: dns.RR_Header{Name: dns.Fqdn(h), Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: dnsrecords.TTL}, Target: dns.Fqdn(p.Hostname)}
			fmt.Fprintf(w, "    %s\n", cname)
		}
	}
	fmt.Fprintf(w, ` 2. PTR: have whoever runs this server's addresses (the hosting provider)
    point the PTR record of the address pail sends from (outbound.source
    if set, else the address of %[2]s) at
      %[2]s
    Receivers check that it names a host whose A/AAAA is that address again
    (forward-confirmed reverse DNS) and refuse or junk mail without it.
 3. Port 25 open both ways: inbound, for mail from other servers, and
    outbound, for delivery (many providers block outbound 25 until asked).
    Open 587, 465, 993, 143, 995 and 110 for mail programs, and 80 and 443
    for the certificate authority's challenges, webmail and MTA-STS.
 4. Start it:
      pail serve %[3]s
    As a service: contrib/pail.service, with
      ExecStart=/usr/local/bin/pail serve %[3]s
      ReadWritePaths=%[4]s
    At start it asks Let's Encrypt for the certificates; until they come it
    serves a self-signed one.
 5. Check the records, the PTR, the certificates and the rest:
      pail doctor %[3]s
 6. Log in as postmaster@%[1]s with the password above:
    webmail at https://%[2]s/, or a mail program with
    IMAP %[2]s port 993 and SMTP %[2]s port 465 (TLS),
    user name postmaster@%[1]s.
    Then send a message from an account elsewhere to postmaster@%[1]s,
    and answer it.
`, p.Domain, p.Hostname, c, shellWord(p.Dir))
	if asRoot {
		p.rootNote(w)
	}
	return nil
}

// unpublishedACMEHosts returns the names [acme] gets certificates for
// that are neither the host name nor the owner of a record in rrs: the CA
// can reach them only once they point at this server.
func unpublishedACMEHosts(cfg *config.Config, rrs []dns.RR) []string {
	var out []string
	for _, h := range cfg.ACMEHosts() {
		if h == cfg.Hostname || slices.ContainsFunc(rrs, func(rr dns.RR) bool { return strings.EqualFold(rr.Header().Name, h+".") }) {
			continue
		}
		out = append(out, h)
	}
	return out
}

// rootNote tells a root user who should own what pail setup made.
func (p setupPlan) rootNote(w io.Writer) {
	if uid := os.Geteuid(); uid != 0 {
		name := strconv.Itoa(uid)
		if u, err := user.LookupId(name); err == nil {
			name = u.Username + " (uid " + name + ")"
		}
		fmt.Fprintf(w, "\nRun as root: everything was made as %s, the owner of %s, who pail serve must run as.\n", name, p.Dir)
		return
	}
	fmt.Fprintf(w, `
Run as root: %[1]s and everything in it belong to root. pail serve should
run as a user of its own (contrib/pail.service: User=pail): give it the
directory before the first start, chown -R pail:pail %[1]s. Admin commands
run as root later act as the directory's owner.
`, shellWord(p.Dir))
}

// shellWord returns s quoted for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

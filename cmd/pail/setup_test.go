package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"pail/internal/auth"
	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/store"
)

// noInput is a standard input that fails the test when read: pail setup
// must ask nothing.
type noInput struct{ t *testing.T }

func (r noInput) Read([]byte) (int, error) {
	r.t.Error("pail setup read standard input")
	return 0, errors.New("no input")
}

// setup runs `pail setup ARGS...` in-process with no input and returns
// its standard output.
func setup(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{ctx: context.Background(), stdin: noInput{t}, stdout: &out, stderr: &errOut}
	err := run(e, append([]string{"setup"}, args...))
	return out.String(), err
}

// TestSetupRefusesBadNames: a domain or host name that is not a name on
// the Internet is refused with the reason, and nothing is made.
func TestSetupRefusesBadNames(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"localhost"}, "localhost name"},
		{[]string{"mail.localhost"}, "localhost name"},
		{[]string{"hill"}, "single label"},
		{[]string{"192.0.2.1"}, "is an IP address"},
		{[]string{"[192.0.2.1]"}, "is an IP address"},
		{[]string{"2001:db8::1"}, "is an IP address"},
		{[]string{"192.0.2"}, "numeric label"},
		{[]string{"hill.com/mail"}, "not a valid domain name"},
		{[]string{"hill.com:25"}, "not a valid domain name"},
		{[]string{"hill.com extra"}, "not a valid domain name"},
		{[]string{"hill..com"}, "not a valid domain name"},
		{[]string{"hill.com.."}, "not a valid domain name"},
		{[]string{"under_score.com"}, "not a valid domain name"},
		{[]string{"hill-.com"}, "not a valid domain name"},
		{[]string{strings.Repeat("a", 64) + ".com"}, "not a valid domain name"},
		{[]string{"x.invalid"}, ".invalid"},
		{[]string{""}, "is empty"},
		{[]string{"hill.com", "--hostname", "mx"}, `--hostname "mx" has a single label`},
		{[]string{"hill.com", "--hostname", "127.0.0.1"}, `--hostname "127.0.0.1" is an IP address`},
		{[]string{"hill.com", "--hostname", "mx.hill.com;"}, `--hostname "mx.hill.com;" is not a valid domain name`},
	} {
		dir := filepath.Join(t.TempDir(), "srv")
		out, err := setup(t, append(tc.args, "--dir", dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("setup %q: %v, want an error naming %q", tc.args, err, tc.want)
		}
		if out != "" {
			t.Errorf("setup %q printed %q", tc.args, out)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("setup %q made %s (%v)", tc.args, dir, err)
		}
	}
}

// TestSetupNames: what pail setup accepts, in the form it writes.
func TestSetupNames(t *testing.T) {
	for in, want := range map[string]string{
		"hill.com":      "hill.com",
		"HILL.Com":      "hill.com",
		"hill.com.":     "hill.com",
		"mail.hill.com": "mail.hill.com",
		"bücher.de":     "xn--bcher-kva.de",
		"hill.test":     "hill.test",
		"3com.com":      "3com.com",
	} {
		got, err := setupName(in)
		if err != nil || got != want {
			t.Errorf("setupName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestSetupRefusesExisting: a directory that holds a configuration, or a
// data directory with something in it, is refused and left as it was.
func TestSetupRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "pail.toml")
	if err := os.WriteFile(cfgPath, []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := setup(t, "hill.com", "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), "already holds a configuration") || !strings.Contains(err.Error(), "never overwrites") {
		t.Errorf("setup over a config: %v", err)
	}
	if b, _ := os.ReadFile(cfgPath); string(b) != "# mine\n" {
		t.Errorf("pail.toml now holds %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory made beside an existing config (%v)", err)
	}

	// A pail.toml that is a dangling symlink is a config too: creating it
	// would write wherever it points.
	dir = t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "elsewhere.toml"), filepath.Join(dir, "pail.toml")); err != nil {
		t.Fatal(err)
	}
	if _, err := setup(t, "hill.com", "--dir", dir); err == nil || !strings.Contains(err.Error(), "already holds a configuration") {
		t.Errorf("setup over a symlinked config: %v", err)
	}

	dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data", "mail"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := setup(t, "hill.com", "--dir", dir); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("setup over a data directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pail.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pail.toml written beside another installation's data (%v)", err)
	}
}

// TestSetup: pail setup makes a configuration that loads, with the
// production ports, ACME, DKIM, MTA-STS, TLS-RPT and the mail log; a
// store that pail check finds clean, holding postmaster@DOMAIN as an
// admin whose printed password authenticates; DKIM keys whose public
// halves are the ones in the printed records; and it prints the records
// exactly as pail dns-records does. The directory's name has a space
// and quotes, which the TOML must carry.
func TestSetup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), `it's "mail"`)
	out, err := setup(t, "Hill.Test", "--dir", dir)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(dir, "pail.toml")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("the config pail setup wrote does not load: %v", err)
	}
	want := config.Listen{
		SMTP: ":25", Submission: ":587", Submissions: ":465",
		IMAP: ":143", IMAPS: ":993", POP3: ":110", POP3S: ":995",
		HTTP: ":80", HTTPS: ":443", ManageSieve: ":4190",
	}
	switch {
	case cfg.Hostname != "mx.hill.test" || len(cfg.Domains) != 1 || cfg.Domains[0] != "hill.test":
		t.Errorf("hostname %q, domains %q", cfg.Hostname, cfg.Domains)
	case cfg.DataDir != filepath.Join(dir, "data"):
		t.Errorf("data_dir %q", cfg.DataDir)
	case cfg.Listen != want:
		t.Errorf("listen %+v, want %+v", cfg.Listen, want)
	case !cfg.ACME.Enabled || cfg.ACME.Email != "postmaster@hill.test" || cfg.ACME.Directory != config.DefaultACMEDirectory:
		t.Errorf("acme %+v", cfg.ACME)
	case !cfg.DKIM.SignsFor("hill.test") || !cfg.TLSRPT.Enabled:
		t.Errorf("dkim %+v, tlsrpt %+v", cfg.DKIM, cfg.TLSRPT)
	case cfg.MTASTSMode() != "testing":
		t.Errorf("mta_sts mode %q", cfg.MTASTSMode())
	case cfg.Log.MailFile != filepath.Join(dir, "log", "mail.log"):
		t.Errorf("log.mail_file %q", cfg.Log.MailFile)
	}
	for path, mode := range map[string]os.FileMode{
		cfgPath:                   0o600,
		cfg.DataDir:               0o700 | os.ModeDir,
		filepath.Join(dir, "log"): 0o700 | os.ModeDir,
		dir:                       0o700 | os.ModeDir,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode(), mode, err)
		}
	}

	// pail check -c accepts the config and finds the store clean.
	p := &pailT{t: t, config: cfgPath}
	if out := p.must("", "check"); !strings.Contains(out, "store check: clean") {
		t.Errorf("pail check: %s", out)
	}

	// The password, printed once, is postmaster's.
	m := regexp.MustCompile(`(?m)^password: +([A-Z2-7]{26})$`).FindAllStringSubmatch(out, -1)
	if len(m) != 1 {
		t.Fatalf("want one password line:\n%s", out)
	}
	pw := m[0][1]
	if strings.Count(out, pw) != 1 {
		t.Errorf("password printed more than once")
	}
	if b, _ := os.ReadFile(cfgPath); bytes.Contains(b, []byte(pw)) {
		t.Errorf("password in the config file")
	}
	st, err := store.Open(context.Background(), cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.New(st)
	loopback := netip.MustParseAddr("127.0.0.1")
	acct, err := authn.Authenticate(context.Background(), loopback, "postmaster@hill.test", pw)
	if err != nil {
		t.Errorf("postmaster@hill.test with the printed password: %v", err)
	} else if !acct.Admin {
		t.Errorf("postmaster@hill.test is not an admin")
	}
	if _, err := authn.Authenticate(context.Background(), loopback, "postmaster@hill.test", pw+"x"); err == nil {
		t.Errorf("a wrong password authenticates")
	}
	accts, err := st.Accounts(context.Background())
	st.Close()
	if err != nil || len(accts) != 1 {
		t.Errorf("accounts %v, %v; want postmaster@hill.test alone", accts, err)
	}

	// The records printed are pail dns-records' own, byte for byte.
	records := p.must("", "dns-records", "hill.test")
	if !strings.Contains(out, "\n"+records+"\n") {
		t.Errorf("setup's records differ from pail dns-records':\n%s\n--- dns-records:\n%s", out, records)
	}

	// Each DKIM key in use has its public key in a printed record.
	keys, err := dkim.Open(dkim.DirIn(cfg.DataDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.Keys("hill.test")
	if err != nil || len(ks) != 2 {
		t.Fatalf("dkim keys %v, %v; want an RSA and an Ed25519 key", ks, err)
	}
	printed := map[string]string{} // record name -> p=
	for line := range strings.Lines(out) {
		rr, err := dns.NewRR(strings.TrimSpace(line))
		if txt, ok := rr.(*dns.TXT); err == nil && ok && strings.Contains(txt.Hdr.Name, "._domainkey.") {
			for tag := range strings.SplitSeq(strings.Join(txt.Txt, ""), ";") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(tag), "p="); ok {
					printed[txt.Hdr.Name] = v
				}
			}
		}
	}
	for _, k := range ks {
		if k.State != dkim.Active {
			t.Errorf("key %s is %s, want active", k.Selector, k.State)
		}
		var pub []byte
		switch key := k.Signer().Public().(type) {
		case ed25519.PublicKey:
			pub = key // RFC 8463 §4.2: the raw key
		default:
			if pub, err = x509.MarshalPKIXPublicKey(key); err != nil { // RFC 6376 §3.6.1
				t.Fatal(err)
			}
		}
		if got := printed[k.Name()]; got != base64.StdEncoding.EncodeToString(pub) {
			t.Errorf("%s: printed p=%q, the key's is %q", k.Name(), got, base64.StdEncoding.EncodeToString(pub))
		}
	}

	// The checklist names the host for the PTR, port 25, the commands.
	for _, s := range []string{
		"PTR", "\n      mx.hill.test\n", "Port 25 open both ways",
		"pail doctor -c '" + strings.ReplaceAll(cfgPath, "'", `'\''`) + "'",
		"pail serve -c '", "contrib/pail.service", "postmaster@hill.test",
		// [acme] asks for autoconfig.hill.test, which the records
		// name (the autoconfiguration CNAME).
		"\nautoconfig.hill.test.\t3600\tIN\tCNAME\tmx.hill.test.\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}

	// A second run refuses and changes nothing.
	before, _ := os.ReadFile(cfgPath)
	if _, err := setup(t, "hill.test", "--dir", dir); err == nil || !strings.Contains(err.Error(), "already holds a configuration") {
		t.Errorf("second setup: %v", err)
	}
	if after, _ := os.ReadFile(cfgPath); !bytes.Equal(before, after) {
		t.Errorf("second setup changed pail.toml")
	}
}

// TestSetupHostname: --hostname names the server in the config and in the
// MX record printed.
func TestSetupHostname(t *testing.T) {
	dir := t.TempDir()
	out, err := setup(t, "hill.test", "--hostname", "Mail.Hill.Test.", "--dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "pail.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hostname != "mail.hill.test" {
		t.Errorf("hostname %q", cfg.Hostname)
	}
	if !strings.Contains(out, "hill.test.\t3600\tIN\tMX\t10 mail.hill.test.\n") {
		t.Errorf("no MX naming mail.hill.test:\n%s", out)
	}
}

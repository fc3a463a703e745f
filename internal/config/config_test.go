package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, text string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pail.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "pail-data" || cfg.Domains[0] != "localhost" || cfg.Listen.SMTP != DefaultSMTP {
		t.Errorf("defaults: %+v", cfg)
	}
	if len(cfg.Listen.Services()) != 9 {
		t.Errorf("default services: %v", cfg.Listen.Services())
	}
}

func TestContractKeys(t *testing.T) {
	cfg, err := load(t, `
hostname = "mx.hill.com"
domains  = ["Hill.com"]
data_dir = "/var/lib/pail"
postmaster = "jill@hill.com"

[listen]
smtp        = "0.0.0.0:25"
submission  = "0.0.0.0:587"
submissions = "0.0.0.0:465"
pop3        = ""
imap        = "0.0.0.0:143"

[tls]
cert = "/etc/pail/cert.pem"
key  = "/etc/pail/key.pem"

[limits]
max_message_bytes = 26214400
max_recipients    = 100
command_timeout   = "2s"

[outbound]
smarthost = ""
resolver  = "127.0.0.1:53"
[outbound.routes]
"example.org" = "127.0.0.1:2526"
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hostname != "mx.hill.com" || cfg.Domains[0] != "hill.com" || !cfg.IsLocalDomain("HILL.COM.") {
		t.Errorf("names: %+v", cfg)
	}
	var names []string
	for _, s := range cfg.Listen.Services() {
		names = append(names, s.Name)
	}
	// [listen] present: exactly the services named there run.
	if strings.Join(names, ",") != "smtp,submission,submissions,imap" {
		t.Errorf("services: %v", names)
	}
	if cfg.Limits.CommandTimeout.Duration != 2*time.Second || cfg.Limits.MaxRecipients != 100 {
		t.Errorf("limits: %+v", cfg.Limits)
	}
	if cfg.Outbound.Routes["example.org"] != "127.0.0.1:2526" {
		t.Errorf("routes: %v", cfg.Outbound.Routes)
	}
	// Keys left out keep their defaults.
	if cfg.Limits.MaxConnections != Default().Limits.MaxConnections {
		t.Errorf("max_connections default lost")
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ text, key string }{
		{`hostnme = "x"`, "hostnme"},
		{"[limits]\nmax_recipents = 3", "limits.max_recipents"},
		{"[listen]\nsmtp = \"nope\"", "listen.smtp"},
		{"[limits]\nmax_message_bytes = -1", "limits.max_message_bytes"},
		{"[limits]\nquota_bytes = -1", "limits.quota_bytes"},
		{"[limits]\ncommand_timeout = \"soon\"", "command_timeout"},
		{`domains = ["bad domain"]`, "domains"},
		{`domains = []`, "domains"},
		{"[tls]\ncert = \"/x\"", "tls"},
		{"[outbound]\nsmarthost = \"host-without-port\"", "outbound.smarthost"},
		{"[outbound.routes]\n\"a.org\" = \"x\"", "outbound.routes"},
		{"[log]\nlevel = \"loud\"", "log.level"},
		{"[log]\nformat = \"xml\"", "log.format"},
		{"[limits]\ncommand_rate_per_ip = -1", "limits.command_rate_per_ip"},
		{"[limits]\nconnection_rate_per_ip = -5", "limits.connection_rate_per_ip"},
		{"[listen]\nmetrics = \"9100\"", "listen.metrics"},
		{`hostname = `, "line 1"},
		{`resolver = "8.8.8.8"`, "resolver"},
		{"resolver = \"127.0.0.1:53\"\n[outbound]\nresolver = \"127.0.0.1:5353\"", "outbound.resolver"},
		{"[outbound]\nsource = \"mx.example\"", "outbound.source"},
		{"[outbound]\nsource = \"0.0.0.0\"", "outbound.source"},
		{`store = "host=db user=pail password=secret"`, "store"},
		{`store = "/var/lib/pail/pail.db"`, "store"},
	} {
		_, err := load(t, tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: error %v does not name %q", tc.text, err, tc.key)
		}
	}
}

// TestStoreKey: store takes a PostgreSQL URL and keeps it as written; a
// value that is not one is refused without being echoed (it may hold a
// password).
func TestStoreKey(t *testing.T) {
	cfg, err := load(t, `store = "postgres://pail:pw@db.internal:5432/mail?sslmode=verify-full"`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != "postgres://pail:pw@db.internal:5432/mail?sslmode=verify-full" {
		t.Errorf("store = %q", cfg.Store)
	}
	if cfg, err := load(t, ``); err != nil || cfg.Store != "" {
		t.Errorf("default store = %q, %v; want empty (SQLite in data_dir)", cfg.Store, err)
	}
	if _, err := load(t, `store = "host=db password=secret"`); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad store value: error %v", err)
	}
}

// TestHTTPSKey: [listen] https turns on the web pages over TLS; it is off
// by default and checked like every other address.
func TestHTTPSKey(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen.HTTPS != "" {
		t.Errorf("https on by default: %q", cfg.Listen.HTTPS)
	}
	cfg, err = load(t, "[listen]\nhttp = \"127.0.0.1:8080\"\nhttps = \"127.0.0.1:8443\"\n")
	if err != nil {
		t.Fatal(err)
	}
	svcs := cfg.Listen.Services()
	if len(svcs) != 2 || svcs[1] != (ListenEntry{Name: "https", Addr: "127.0.0.1:8443"}) {
		t.Errorf("services %v", svcs)
	}
	if _, err := load(t, "[listen]\nhttps = \"nope\"\n"); err == nil || !strings.Contains(err.Error(), "listen.https") {
		t.Errorf("bad https address: %v", err)
	}
}

// TestLoginLimitKeys: the failed-login limits are read from [limits] and
// checked, and default to auth's defaults.
func TestLoginLimitKeys(t *testing.T) {
	def := Default().Limits
	if def.LoginFailuresPerAddress != 20 || def.LoginFailuresPerAccount != 10 || def.LoginSuspectAttemptsPerMinute != 6 || def.LoginIPv6Prefix != 64 || def.LoginIPv4Prefix != 32 {
		t.Errorf("defaults %+v", def)
	}
	cfg, err := load(t, "[limits]\nlogin_failures_per_address = 5\nlogin_failures_per_account = 3\nlogin_suspect_attempts_per_minute = 2\nlogin_ipv6_prefix = 56\nlogin_ipv4_prefix = 24\n")
	if err != nil {
		t.Fatal(err)
	}
	lim := cfg.Limits
	if lim.LoginFailuresPerAddress != 5 || lim.LoginFailuresPerAccount != 3 || lim.LoginSuspectAttemptsPerMinute != 2 || lim.LoginIPv6Prefix != 56 || lim.LoginIPv4Prefix != 24 {
		t.Errorf("read %+v", lim)
	}
	for _, tc := range []struct{ text, key string }{
		{"[limits]\nlogin_failures_per_address = 0", "limits.login_failures_per_address"},
		{"[limits]\nlogin_failures_per_account = -1", "limits.login_failures_per_account"},
		{"[limits]\nlogin_suspect_attempts_per_minute = 0", "limits.login_suspect_attempts_per_minute"},
		{"[limits]\nlogin_ipv6_prefix = 129", "limits.login_ipv6_prefix"},
		{"[limits]\nlogin_ipv4_prefix = 0", "limits.login_ipv4_prefix"},
	} {
		if _, err := load(t, tc.text); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: error %v does not name %q", tc.text, err, tc.key)
		}
	}
}

// TestResolverSynonym: outbound.resolver, the older key, sets the one
// resolver; the same value under both keys is accepted.
func TestResolverSynonym(t *testing.T) {
	for _, text := range []string{
		"[outbound]\nresolver = \"127.0.0.1:5353\"",
		"resolver = \"127.0.0.1:5353\"",
		"resolver = \"127.0.0.1:5353\"\n[outbound]\nresolver = \"127.0.0.1:5353\"",
	} {
		cfg, err := load(t, text)
		if err != nil || cfg.Resolver != "127.0.0.1:5353" {
			t.Errorf("%q: resolver %q, %v", text, cfg.Resolver, err)
		}
	}
	cfg, err := load(t, "[outbound]\nsource = \"2001:db8::25\"")
	if err != nil || cfg.Outbound.Source != "2001:db8::25" {
		t.Errorf("source: %v", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	const head = "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n[limits]\n"
	cfg, err := load(t, head+`trusted_proxies = ["127.0.0.1", "10.1.2.3/8", "2001:db8::/32"]`+"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(cfg.Limits.TrustedProxyPrefixes, want) {
		t.Errorf("trusted proxies %v, want %v", cfg.Limits.TrustedProxyPrefixes, want)
	}
	if _, err := load(t, head+`trusted_proxies = ["proxy.hill.com"]`+"\n"); err == nil || !strings.Contains(err.Error(), `limits.trusted_proxies: "proxy.hill.com"`) {
		t.Errorf("a host name: %v", err)
	}
}

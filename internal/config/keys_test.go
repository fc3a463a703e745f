package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestKeysAreExact: a key that is not one of pail's spelt exactly — wrong
// case or unknown, a table or a key, at any depth — stops loading with an
// error that names it and its line (README, "Configuration").
func TestKeysAreExact(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[Listen]\nsmtp = \"127.0.0.1:25\"\n", `unknown key "Listen" at line 1 (keys are case-sensitive: "listen")`},
		{"Hostname = \"mx.hill.test\"\n", `unknown key "Hostname" at line 1 (keys are case-sensitive: "hostname")`},
		{"hostname = \"mx.hill.test\"\n\n[listen]\nSMTP = \"127.0.0.1:25\"\n", `unknown key "listen.SMTP" at line 4`},
		{"Listen.smtp = \"127.0.0.1:25\"\n", `unknown key "Listen" at line 1`},
		{"[listen]\nsmtp = \"127.0.0.1:25\"\nsmpt = \"127.0.0.1:26\"\n", `unknown key "listen.smpt" at line 3`},
		{"[nope]\nx = 1\n", `unknown key "nope" at line 1`},
		{"[outbound.Routes]\n\"a.test\" = \"127.0.0.1:25\"\n", `unknown key "outbound.Routes" at line 1`},
		{"[limits]\nCommand_Timeout = \"1m\"\n", `unknown key "limits.Command_Timeout" at line 2`},
		{"[dns.Rate_limit]\nslip = 1\n", `unknown key "dns.Rate_limit" at line 1`},
		{"[dns]\nrate_limit.Slip = 1\n", `unknown key "dns.rate_limit.Slip" at line 2`},
		{"[[dns.Zones]]\norigin = \"a.test\"\n", `unknown key "dns.Zones" at line 1`},
		{"[[dns.zones]]\norigin = \"a.test\"\nRecords = []\n", `unknown key "dns.zones.Records" at line 3`},
		{"[[dns.pools]]\nname = \"www.a.test\"\n[[dns.pools]]\nName = \"x.a.test\"\n", `unknown key "dns.pools.Name" at line 4`},
		{"[[dns.pools]]\nname = \"www.a.test\"\nedges = [{ Address = \"192.0.2.1\" }]\n", `unknown key "dns.pools.edges.Address" at line 3`},
		{"[proxy.Sites]\n\"a.test\" = \"http://127.0.0.1:1\"\n", `unknown key "proxy.Sites" at line 1`},
		{"[log]\nlevel = \"info\"\n[Log]\nformat = \"text\"\n", `unknown key "Log" at line 3`},
	} {
		_, err := load(t, tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %s", tc.text, err, tc.want)
		}
	}
	// Every table, and every key of every table, written with a capital.
	ct := reflect.TypeFor[Config]()
	for f := range ct.Fields() {
		name := f.Tag.Get("toml")
		upper := strings.ToUpper(name[:1]) + name[1:]
		if f.Type.Kind() != reflect.Struct || f.Type == reflect.TypeFor[Duration]() {
			continue
		}
		text := fmt.Sprintf("[%s]\n", upper)
		if _, err := load(t, text); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unknown key %q at line 1", upper)) {
			t.Errorf("[%s]: %v", upper, err)
		}
		for g := range f.Type.Fields() {
			key := g.Tag.Get("toml")
			if key == "" {
				continue
			}
			bad := strings.ToUpper(key[:1]) + key[1:]
			text := fmt.Sprintf("[%s]\n%s = 1\n", name, bad)
			want := fmt.Sprintf("unknown key %q at line 2", name+"."+bad)
			if _, err := load(t, text); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: %v, want %s", text, err, want)
			}
		}
	}
}

// TestExactKeysLoad: keys spelt right in nested tables, arrays of tables
// and inline tables still load, and map keys (domains, prefixes, host
// names) are free.
func TestExactKeysLoad(t *testing.T) {
	cfg, err := load(t, `
[listen]
smtp = "127.0.0.1:2525"
[outbound.routes]
"Example.ORG" = "127.0.0.1:2526"
[dns]
listen = "127.0.0.1:5353"
rate_limit.slip = 3
[[dns.zones]]
origin  = "cdn.test"
records = ["@ NS ns1", "ns1 A 192.0.2.53"]
[[dns.pools]]
name  = "www.cdn.test"
edges = [{ address = "192.0.2.1", location = "eu" }]
[dns.locations]
"10.1.0.0/16" = "eu"
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen.SMTP != "127.0.0.1:2525" || cfg.Listen.IMAP != "" || cfg.DNS.RateLimit.Slip != 3 ||
		len(cfg.DNS.Pools) != 1 || cfg.DNS.Pools[0].Edges[0].Address != "192.0.2.1" {
		t.Errorf("decoded %+v", cfg)
	}
}

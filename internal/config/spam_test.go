package config

import (
	"strings"
	"testing"
	"time"
)

func TestSpamSection(t *testing.T) {
	const head = "hostname = \"mx.hill.com\"\ndomains = [\"hill.com\"]\n"
	cfg, err := load(t, head)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Spam{RspamdController: DefaultRspamdController, Timeout: Duration{5 * time.Second}}); cfg.Spam != want {
		t.Errorf("default [spam] = %+v, want %+v", cfg.Spam, want)
	}
	cfg, err = load(t, head+`
[spam]
rspamd = "http://127.0.0.1:11333"
rspamd_controller = "https://rspamd.hill.com/controller/"
rspamd_password = "q1"
timeout = "2s"
`)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Spam{Rspamd: "http://127.0.0.1:11333", RspamdController: "https://rspamd.hill.com/controller/", RspamdPassword: "q1", Timeout: Duration{2 * time.Second}}); cfg.Spam != want {
		t.Errorf("[spam] = %+v, want %+v", cfg.Spam, want)
	}
	cfg, err = load(t, head+"[spam]\nrspamd = \"http://127.0.0.1:11333\"\nrspamd_controller = \"\"\n")
	if err != nil || cfg.Spam.RspamdController != "" {
		t.Errorf("rspamd_controller = \"\" (no learning): %+v, %v", cfg.Spam, err)
	}
	for text, want := range map[string]string{
		"[spam]\nrspamd = \"127.0.0.1:11333\"\n":                    `spam.rspamd: "127.0.0.1:11333" is not an http:// or https:// URL`,
		"[spam]\nrspamd = \"ftp://127.0.0.1:11333\"\n":              `spam.rspamd: "ftp://127.0.0.1:11333"`,
		"[spam]\nrspamd = \"http://u:p@127.0.0.1:11333\"\n":         `spam.rspamd: `,
		"[spam]\nrspamd = \"http://127.0.0.1:11333/?x=1\"\n":        `spam.rspamd: `,
		"[spam]\nrspamd_controller = \"http:///learn\"\n":           `spam.rspamd_controller: "http:///learn"`,
		"[spam]\nrspamd = \"http://127.0.0.1\"\ntimeout = \"0s\"\n": `spam.timeout: 0s must be positive and at most 5m0s`,
		"[spam]\ntimeout = \"6m\"\n":                                `spam.timeout: 6m0s`,
		"[spam]\ntimeout = \"soon\"\n":                              `soon`,
		"[spam]\npassword = \"q1\"\n":                               `unknown key "spam.password"`,
	} {
		_, err := load(t, head+text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %s", text, err, want)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pailT runs the CLI in-process against a config in a temporary directory.
type pailT struct {
	t      *testing.T
	config string
}

func newPail(t *testing.T) *pailT {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pail.toml")
	text := "hostname = \"mx.hill.test\"\ndomains = [\"hill.test\"]\ndata_dir = \"" + filepath.Join(dir, "data") + "\"\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return &pailT{t: t, config: cfg}
}

func (p *pailT) run(stdin string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut}
	err := run(e, append([]string{"-c", p.config}, args...))
	return out.String(), err
}

func (p *pailT) must(stdin string, args ...string) string {
	p.t.Helper()
	out, err := p.run(stdin, args...)
	if err != nil {
		p.t.Fatalf("pail %v: %v", args, err)
	}
	return out
}

func TestUsersAndAliases(t *testing.T) {
	p := newPail(t)
	p.must("pw1\n", "user", "add", "Jill@Hill.test", "--password-stdin")
	p.must("pw2\n", "user", "add", "--password-stdin", "bob@hill.test")
	if _, err := p.run("pw\n", "user", "add", "x@elsewhere.test", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "domains") {
		t.Errorf("foreign domain: %v", err)
	}
	if _, err := p.run("pw\n", "user", "add", "jill@hill.test", "--password-stdin"); err == nil {
		t.Error("duplicate account accepted")
	}
	if _, err := p.run("", "user", "add", "amy@hill.test", "--password-stdin"); err == nil {
		t.Error("empty password accepted")
	}
	if out := p.must("", "user", "list"); out != "bob@hill.test\njill@hill.test\tadmin\n" {
		t.Errorf("user list:\n%s", out)
	}
	p.must("new\n", "user", "passwd", "jill@hill.test", "--password-stdin")
	p.must("", "alias", "add", "info@hill.test", "jill@hill.test", "Bob@hill.test")
	if out := p.must("", "alias", "list"); out != "info@hill.test\tbob@hill.test jill@hill.test\n" {
		t.Errorf("alias list:\n%s", out)
	}
	p.must("", "alias", "delete", "info@hill.test", "bob@hill.test")
	if out := p.must("", "alias", "list"); out != "info@hill.test\tjill@hill.test\n" {
		t.Errorf("alias list after delete:\n%s", out)
	}
	// The last admin stays one, and stays, while other accounts remain.
	if _, err := p.run("", "user", "delete", "jill@hill.test"); err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Errorf("deleting the last admin: %v", err)
	}
	if _, err := p.run("", "user", "admin", "jill@hill.test", "--off"); err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Errorf("un-admin the last admin: %v", err)
	}
	p.must("", "user", "admin", "bob@hill.test")
	if out := p.must("", "user", "list"); out != "bob@hill.test\tadmin\njill@hill.test\tadmin\n" {
		t.Errorf("user list after user admin:\n%s", out)
	}
	p.must("", "user", "admin", "bob@hill.test", "--off")
	p.must("", "user", "delete", "bob@hill.test")
	if _, err := p.run("", "user", "delete", "bob@hill.test"); err == nil {
		t.Error("deleting a missing account succeeded")
	}
	if _, err := p.run("", "user", "frobnicate"); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	p := newPail(t)
	p.must("pw\n", "user", "add", "jill@hill.test", "--password-stdin")
	p.must("pw\n", "user", "add", "bob@hill.test", "--password-stdin")
	in := "From jack@town.test Mon Jan  2 15:04:05 2006\n" +
		"Return-Path: <jack@town.test>\nSubject: one\n\n>From the hill\n>>From quoted\n\n" +
		"From MAILER-DAEMON Tue Jan  3 15:04:05 2006\n" +
		"Subject: two\n\nGrüße\n"
	file := filepath.Join(t.TempDir(), "in.mbox")
	os.WriteFile(file, []byte(in), 0o600)
	if out := p.must("", "import", "jill@hill.test", file); !strings.Contains(out, "imported 2") {
		t.Errorf("import: %s", out)
	}
	exported := p.must("", "export", "jill@hill.test")
	if exported != in+"\n" {
		t.Errorf("export:\n%s", exported)
	}
	// Import the export into another account and export again: identical.
	file2 := filepath.Join(t.TempDir(), "out.mbox")
	os.WriteFile(file2, []byte(exported), 0o600)
	p.must("", "import", "bob@hill.test", file2, "--folder", "Archive")
	if again := p.must("", "export", "--folder", "Archive", "bob@hill.test"); again != exported {
		t.Errorf("round trip differs:\n%s\n---\n%s", exported, again)
	}
	if _, err := p.run("", "export", "jill@hill.test", "--folder", "Nope"); err == nil {
		t.Error("export of a missing folder succeeded")
	}
	if out := p.must("", "check"); !strings.Contains(out, "clean") {
		t.Errorf("check: %s", out)
	}
}

func TestConfigErrorNamesKey(t *testing.T) {
	p := newPail(t)
	os.WriteFile(p.config, []byte("[limits]\nmax_recipients = 0\n"), 0o600)
	_, err := p.run("", "user", "list")
	if err == nil || !strings.Contains(err.Error(), "limits.max_recipients") {
		t.Errorf("error %v", err)
	}
	// Keys are case-sensitive for every command: serve, check and the
	// admin commands load the file the same way (serve too: loadConfig).
	text := "domains = [\"hill.test\"]\ndata_dir = \"" + filepath.Join(t.TempDir(), "data") + "\"\n[Listen]\nsmtp = \"127.0.0.1:2525\"\n"
	os.WriteFile(p.config, []byte(text), 0o600)
	for _, args := range [][]string{{"check"}, {"user", "list"}, {"queue", "list"}} {
		_, err := p.run("", args...)
		if err == nil || !strings.Contains(err.Error(), `unknown key "Listen" at line 3`) {
			t.Errorf("pail %v with [Listen]: %v", args, err)
		}
	}
}

// TestUserQuota: pail user quota sets an account's own quota from a size
// with a unit, 0 for none, and "default" gives it the configured default.
func TestUserQuota(t *testing.T) {
	p := newPail(t)
	p.must("pw\n", "user", "add", "jill@hill.test", "--password-stdin")
	if out := p.must("", "user", "quota", "Jill@hill.test", "2M"); out != "quota of jill@hill.test: 2097152 octets, 0 octets used\n" {
		t.Errorf("user quota 2M: %q", out)
	}
	if out := p.must("", "user", "quota", "jill@hill.test", "0"); out != "quota of jill@hill.test: no limit, 0 octets used\n" {
		t.Errorf("user quota 0: %q", out)
	}
	if out := p.must("", "user", "quota", "jill@hill.test", "default"); !strings.Contains(out, "no limit (the default") {
		t.Errorf("user quota default: %q", out)
	}
	for _, bad := range []string{"-1", "2X", "", "99999999999T"} {
		if _, err := p.run("", "user", "quota", "jill@hill.test", bad); err == nil {
			t.Errorf("user quota %q accepted", bad)
		}
	}
	if _, err := p.run("", "user", "quota", "bob@hill.test", "1G"); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Errorf("unknown account: %v", err)
	}
}

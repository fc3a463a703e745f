package main

import (
	"strings"
	"testing"
)

func TestSieveCommands(t *testing.T) {
	p := newPail(t)
	p.must("pw\n", "user", "add", "jill@hill.test", "--password-stdin")
	_, err := p.run("require \"fileinto\";\nif true {\n  fileinto :bogus \"x\";\n}\n", "sieve", "put", "jill@hill.test", "bad")
	if err == nil || !strings.Contains(err.Error(), "line 3, column") {
		t.Errorf("bad script: %v, want its line and column", err)
	}
	if out := p.must("", "sieve", "list", "jill@hill.test"); out != "" {
		t.Errorf("a refused script was stored: %q", out)
	}
	script := "require \"fileinto\";\nfileinto \"Lists\";\n"
	p.must(script, "sieve", "put", "jill@hill.test", "lists")
	p.must("keep;\n", "sieve", "put", "jill@hill.test", "plain", "--activate")
	if out := p.must("", "sieve", "get", "jill@hill.test", "lists"); out != script {
		t.Errorf("get: %q", out)
	}
	p.must("", "sieve", "activate", "jill@hill.test", "lists")
	out := p.must("", "sieve", "list", "jill@hill.test")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "lists 38 ") || !strings.HasSuffix(lines[0], " active") || strings.HasSuffix(lines[1], "active") {
		t.Errorf("list:\n%s", out)
	}
	if _, err := p.run("", "sieve", "delete", "jill@hill.test", "lists"); err == nil {
		t.Error("deleted the active script")
	}
	p.must("", "sieve", "activate", "jill@hill.test", "--off")
	p.must("", "sieve", "delete", "jill@hill.test", "lists")
	if out := p.must("", "sieve", "list", "jill@hill.test"); strings.Contains(out, "lists") || strings.Contains(out, "active") {
		t.Errorf("after delete:\n%s", out)
	}
	if _, err := p.run("keep;", "sieve", "put", "nobody@hill.test", "x"); err == nil {
		t.Error("script for a missing account")
	}
}

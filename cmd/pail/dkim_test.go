package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestDKIMCommands: list makes and shows the keys with their TXT values,
// rotate makes new active selectors and leaves the old ones retiring,
// retire removes only a retiring one.
func TestDKIMCommands(t *testing.T) {
	p := newPail(t)
	list := p.must("", "dkim", "list")
	rows := regexp.MustCompile(`(?m)^hill\.test +(p\d{8}[re]) +(rsa|ed25519) +\S+ +active +v=DKIM1; k=(rsa|ed25519); p=\S+$`).FindAllStringSubmatch(list, -1)
	if len(rows) != 2 || rows[0][2] != "rsa" || rows[0][3] != "rsa" || rows[1][2] != "ed25519" || rows[1][3] != "ed25519" {
		t.Fatalf("dkim list:\n%s", list)
	}
	if again := p.must("", "dkim", "list"); again != list {
		t.Errorf("a second list differs:\n%s", again)
	}
	out := p.must("", "dkim", "rotate", "Hill.Test")
	if !strings.Contains(out, rows[0][1]+"2._domainkey.hill.test.\t3600\tIN\tTXT\t\"v=DKIM1; k=rsa; p=") ||
		!strings.Contains(out, rows[1][1]+"2._domainkey.hill.test.\t3600\tIN\tTXT\t\"v=DKIM1; k=ed25519; p=") {
		t.Errorf("dkim rotate:\n%s", out)
	}
	list = p.must("", "dkim", "list")
	if strings.Count(list, " retiring ") != 2 || strings.Count(list, " active ") != 2 {
		t.Errorf("after rotate:\n%s", list)
	}
	if _, err := p.run("", "dkim", "retire", "hill.test", rows[0][1]+"2"); err == nil {
		t.Error("retired an active selector")
	}
	if _, err := p.run("", "dkim", "rotate", "far.test"); err == nil {
		t.Error("rotated a domain that is not local")
	}
	p.must("", "dkim", "retire", "hill.test", rows[0][1])
	list = p.must("", "dkim", "list")
	if strings.Contains(list, rows[0][1]+" ") || strings.Count(list, "\n") != 4 {
		t.Errorf("after retire:\n%s", list)
	}
}

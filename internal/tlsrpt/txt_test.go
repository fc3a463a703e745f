package tlsrpt

import (
	"errors"
	"slices"
	"testing"
)

func TestParseTXT(t *testing.T) {
	good := []struct {
		rec  string
		want []string
	}{
		{"v=TLSRPTv1; rua=mailto:reports@example.com", []string{"mailto:reports@example.com"}},
		{"v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt", []string{"https://reporting.example.com/v1/tlsrpt"}},
		{"v=TLSRPTv1 ; rua=mailto:a@example.com, https://r.example.com/x ;", []string{"mailto:a@example.com", "https://r.example.com/x"}},
		{"v=TLSRPTv1; ext-1=foo; rua=mailto:a@example.com", []string{"mailto:a@example.com"}},
		{"v=TLSRPTv1; rua=MAILTO:a@example.com", []string{"mailto:a@example.com"}},
	}
	for _, c := range good {
		p, err := ParseTXT(c.rec)
		if err != nil {
			t.Errorf("ParseTXT(%q): %v", c.rec, err)
			continue
		}
		var got []string
		for _, u := range p.RUA {
			got = append(got, u.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ParseTXT(%q) = %q, want %q", c.rec, got, c.want)
		}
	}
	bad := []string{
		"",
		"v=TLSRPTv1",
		"v=TLSRPTv1;",
		"v=TLSRPTv2; rua=mailto:a@example.com",
		"v=tlsrptv1; rua=mailto:a@example.com",
		"v=TLSRPTv1; rua=http://r.example.com/",
		"v=TLSRPTv1; rua=ftp://r.example.com/",
		"v=TLSRPTv1; rua=mailto:nobody",
		"v=TLSRPTv1; rua=https:///nohost",
		"v=TLSRPTv1; ext=1",
		"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
		"v=TLSRPTv1; =x; rua=mailto:a@example.com",
		"v=TLSRPTv1; rua",
		" v=TLSRPTv1; rua=mailto:a@example.com",
	}
	for _, rec := range bad {
		if p, err := ParseTXT(rec); err == nil {
			t.Errorf("ParseTXT(%q) = %v, want an error", rec, p.RUA)
		}
	}
}

func TestPolicyFromTXT(t *testing.T) {
	if _, err := PolicyFromTXT([]string{"v=spf1 -all"}); !errors.Is(err, ErrNoPolicy) {
		t.Errorf("no TLSRPT record: %v, want ErrNoPolicy", err)
	}
	if _, err := PolicyFromTXT(nil); !errors.Is(err, ErrNoPolicy) {
		t.Errorf("no record: %v, want ErrNoPolicy", err)
	}
	two := []string{"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"}
	if _, err := PolicyFromTXT(two); err == nil {
		t.Error("two TLSRPTv1 records: no error (RFC 8460 §3: no policy)")
	}
	p, err := PolicyFromTXT([]string{"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com"})
	if err != nil || len(p.RUA) != 1 || MailAddress(p.RUA[0]) != "a@example.com" {
		t.Errorf("one TLSRPT record among others: %v %v", p.RUA, err)
	}
}

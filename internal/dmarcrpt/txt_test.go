package dmarcrpt

import (
	"fmt"
	"testing"
)

func TestParseRUA(t *testing.T) {
	for in, want := range map[string]string{
		"mailto:dmarc@town.test":           "dmarc@town.test 0",
		"mailto:dmarc@town.test!10":        "dmarc@town.test 10",
		"mailto:dmarc@town.test!10k":       "dmarc@town.test 10240",
		"mailto:dmarc@town.test!50m":       "dmarc@town.test 52428800",
		"mailto:dmarc@town.test!1g":        "dmarc@town.test 1073741824",
		"MAILTO:d%21x@town.test!2t":        "d!x@town.test 2199023255552",
		"https://town.test/dmarc":          "error",
		"mailto:nobody":                    "error",
		"mailto:a@b@town.test":             "error",
		"mailto:dmarc@town.test!":          "error",
		"mailto:dmarc@town.test!10x":       "error",
		"mailto:dmarc@town.test!99999999t": "error",
	} {
		r, err := ParseRUA(in)
		got := fmt.Sprintf("%s %d", r.Address, r.MaxBytes)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParseRUA(%q) = %s (%v), want %s", in, got, err, want)
		}
	}
}

func TestRUAFromTXT(t *testing.T) {
	for _, tc := range []struct {
		records []string
		want    string
	}{
		{[]string{"v=spf1 -all", "v=DMARC1; p=reject; rua=mailto:a@town.test,https://x.test/r, mailto:b@far.test!5m"}, "[a@town.test b@far.test]"},
		{[]string{"v=DMARC1; p=none"}, "error"},
		{[]string{"v=DMARC1; p=none; rua=https://x.test/r"}, "error"},
		{[]string{"v=DMARC1; p=none; rua=mailto:a@town.test", "v=DMARC1; p=reject; rua=mailto:a@town.test"}, "error"},
		{[]string{"v=DMARC1; p=bogus; rua=mailto:a@town.test"}, "error"},
		{nil, "error"},
	} {
		ruas, err := RUAFromTXT(tc.records)
		var addrs []string
		for _, r := range ruas {
			addrs = append(addrs, r.Address)
		}
		got := fmt.Sprint(addrs)
		if err != nil {
			got = "error"
		}
		if got != tc.want {
			t.Errorf("RUAFromTXT(%q) = %s (%v), want %s", tc.records, got, err, tc.want)
		}
	}
}

func TestAuthorizes(t *testing.T) {
	for _, tc := range []struct {
		records []string
		want    bool
	}{
		{[]string{"v=DMARC1"}, true},
		{[]string{"v=DMARC1;"}, true},
		{[]string{"v=spf1 -all", "v=DMARC1; rua=mailto:x@far.test"}, true},
		{[]string{"v=DMARC2"}, false},
		{[]string{"p=none; v=DMARC1"}, false},
		{[]string{"v=DMARC1; bogus"}, false},
		{nil, false},
	} {
		if got := Authorizes(tc.records); got != tc.want {
			t.Errorf("Authorizes(%q) = %v, want %v", tc.records, got, tc.want)
		}
	}
}

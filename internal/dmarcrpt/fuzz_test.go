package dmarcrpt

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// FuzzParseReport feeds the report reader anything: gzip, zip or XML of
// any shape. It must not panic or read past its bounds; a report it
// takes must be shown without trouble and parse again from its XML.
func FuzzParseReport(f *testing.F) {
	for _, s := range []string{
		"<feedback><report_metadata><org_name>o</org_name><report_id>1</report_id><date_range><begin>1</begin><end>2</end></date_range></report_metadata><policy_published><domain>d.test</domain><p>none</p></policy_published></feedback>",
		"<feedback xmlns=\"http://dmarc.org/dmarc-xml/0.1\"><record><row><count>x</count></row></record></feedback>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(x) > MaxReportBytes {
			t.Fatalf("decoded %d bytes, over the bound", len(x))
		}
		rep, err := ParseReport(x)
		if err != nil {
			return
		}
		if err := WriteReceived(io.Discard, []Received{{Report: rep, Received: time.Unix(0, 0)}}); err != nil {
			t.Fatal(err)
		}
		again, err := rep.XML()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseReport(again); err != nil {
			t.Fatalf("a report pail took does not parse from its own XML: %v\n%s", err, again)
		}
	})
}

package autoconfig

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"pail/internal/address"
)

// FuzzParseAutodiscoverRequest: no body crashes the request parser or
// makes it read past its bound; every address it accepts is one
// address.Split accepts, and the answer made for it parses back with
// that address as the login name.
func FuzzParseAutodiscoverRequest(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/autodiscover/*.xml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("<Autodiscover><Request><EMailAddress>a&amp;b@x.test</EMailAddress></Request></Autodiscover>"))
	svc := New("mx.hill.test", full())
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &countingReader{r: bytes.NewReader(body)}
		addr, _, err := ParseAutodiscoverRequest(r)
		if r.n > MaxAutodiscoverRequest+1 {
			t.Fatalf("read %d bytes", r.n)
		}
		if err != nil {
			return
		}
		if _, _, err := address.Split(addr); err != nil {
			t.Fatalf("accepted %q: %v", addr, err)
		}
		doc, err := svc.Autodiscover(addr)
		if err != nil {
			t.Fatal(err)
		}
		var resp AutodiscoverResponse
		if err := xml.Unmarshal(doc, &resp); err != nil || resp.Response.Account == nil || resp.Response.Account.Protocol[0].LoginName != addr {
			t.Fatalf("answer for %q: %v\n%s", addr, err, doc)
		}
	})
}

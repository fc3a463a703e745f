package dsn

import (
	"bytes"
	"flag"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// original is the message that bounced.
const original = "Received: from client.town.test ([127.0.0.1])\r\n" +
	"\tby mx.town.test (pail) with ESMTPSA id abc123; Wed, 25 Nov 2026 18:30:00 +0000\r\n" +
	"From: Alice <alice@town.test>\r\n" +
	"To: bob@hill.test, nobody@hill.test\r\n" +
	"Subject: Up the hill\r\n" +
	"Message-ID: <m1@town.test>\r\n" +
	"\r\n" +
	"Secret body that must not be returned.\r\n"

func sampleReport() Report {
	at := time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC)
	return Report{
		ReportingMTA: "mx.town.test",
		To:           "alice@town.test",
		QueueID:      "abc123",
		ArrivalDate:  at,
		Date:         at.Add(time.Minute),
		MessageID:    "dsn1@mx.town.test",
		Boundary:     "=_pail-dsn-test",
		Headers:      HeaderSection([]byte(original)),
		Recipients: []Recipient{
			{
				Address: "nobody@hill.test", Status: "5.1.1", RemoteMTA: "mx.hill.test",
				Reply: "550 5.1.1 No such user here", LastAttempt: at.Add(30 * time.Second),
			},
			{
				Address: "carol@gone.test", Status: "5.1.2",
				Reason: "domain gone.test does not exist (DNS: NXDOMAIN)",
			},
			{
				Address: "dave@slow.test", Status: "5.4.7", RemoteMTA: "mx.slow.test",
				Reason: "delivery time expired: the message was queued for 120h0m0s",
				Reply:  "451 4.3.0 Temporary local problem, please try again later; this text goes on for long enough to need folding",
			},
		},
	}
}

func TestBuildGolden(t *testing.T) {
	got := Build(sampleReport())
	path := filepath.Join("testdata", "bounce.golden")
	// The golden file is kept with LF line endings so that it reads well
	// and survives checkouts; the message itself must be CRLF throughout.
	lf := bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n"))
	if bytes.Count(got, []byte("\n")) != bytes.Count(got, []byte("\r\n")) || bytes.Contains(lf, []byte("\r")) {
		t.Errorf("DSN has a bare LF or CR")
	}
	if *update {
		if err := os.WriteFile(path, lf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(lf, want) {
		t.Errorf("DSN differs from %s (go test -update rewrites it):\n%s", path, lf)
	}
}

func TestBuildStructure(t *testing.T) {
	msg, err := mail.ReadMessage(bytes.NewReader(Build(sampleReport())))
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"From":           "Mail Delivery System <MAILER-DAEMON@mx.town.test>",
		"To":             "<alice@town.test>",
		"Auto-Submitted": "auto-replied",
		"Subject":        Subject,
	} {
		if got := msg.Header.Get(field); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	var bodies []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		types = append(types, p.Header.Get("Content-Type"))
		bodies = append(bodies, string(b))
	}
	if strings.Join(types, ",") != "text/plain; charset=us-ascii,message/delivery-status,text/rfc822-headers" {
		t.Fatalf("parts %q", types)
	}
	if !strings.Contains(bodies[0], "<nobody@hill.test>:") || !strings.Contains(bodies[0], "550 5.1.1 No such user here") {
		t.Errorf("notification does not name the recipient and reply:\n%s", bodies[0])
	}
	if !strings.Contains(bodies[1], "Final-Recipient: rfc822; nobody@hill.test\r\nAction: failed\r\nStatus: 5.1.1\r\n") {
		t.Errorf("delivery-status:\n%s", bodies[1])
	}
	if !strings.Contains(bodies[2], "Subject: Up the hill") || strings.Contains(bodies[2], "Secret body") {
		t.Errorf("headers part:\n%s", bodies[2])
	}
}

func TestBuildLineLengthAndInjection(t *testing.T) {
	r := sampleReport()
	r.Recipients[0].Reply = "550 " + strings.Repeat("x", 2000) + "\r\nBcc: victim@example.org"
	r.Headers = []byte("Subject: " + strings.Repeat("y", 3000) + "\r\n")
	out := Build(r)
	for i, line := range strings.Split(string(out), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d has %d characters", i, len(line))
		}
		if strings.HasPrefix(line, "Bcc:") {
			t.Errorf("reply text started a header line: %q", line)
		}
	}
}

func TestHeaderSection(t *testing.T) {
	for in, want := range map[string]string{
		"A: 1\r\nB: 2\r\n\r\nbody": "A: 1\r\nB: 2\r\n",
		"A: 1\n\nbody":             "A: 1\n",
		"A: 1\r\n":                 "A: 1\r\n",
		"\r\nbody":                 "",
	} {
		if got := string(HeaderSection([]byte(in))); got != want {
			t.Errorf("HeaderSection(%q) = %q, want %q", in, got, want)
		}
	}
}

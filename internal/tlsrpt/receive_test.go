package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// rfcReport is the report of RFC 8460 Appendix B (mx-host a string, as
// there).
const rfcReport = `{
  "organization-name": "Company-X",
  "date-range": {"start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z"},
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  "policies": [{
    "policy": {
      "policy-type": "sts",
      "policy-string": ["version: STSv1","mode: testing","mx: *.mail.company-y.example","max_age: 86400"],
      "policy-domain": "company-y.example",
      "mx-host": "*.mail.company-y.example"
    },
    "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
    "failure-details": [{
      "result-type": "certificate-expired",
      "sending-mta-ip": "2001:db8:abcd:0012::1",
      "receiving-mx-hostname": "mx1.mail.company-y.example",
      "failed-session-count": 100
    }, {
      "result-type": "starttls-not-supported",
      "sending-mta-ip": "2001:db8:abcd:0013::1",
      "receiving-mx-hostname": "mx2.mail.company-y.example",
      "receiving-ip": "203.0.113.56",
      "failed-session-count": 200,
      "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
    }, {
      "result-type": "validation-failure",
      "sending-mta-ip": "198.51.100.62",
      "receiving-ip": "203.0.113.58",
      "receiving-mx-hostname": "mx-backup.mail.company-y.example",
      "failed-session-count": 3,
      "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
    }]
  }]
}`

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// rfcMessage is a report mail laid out as RFC 8460 §5.3's example, with
// the attachment given.
func rfcMessage(attachment []byte) string {
	enc := base64.StdEncoding.EncodeToString(attachment)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	return strings.ReplaceAll(`Return-Path: <tlsrpt@mail.sender.example.com>
Received: from mail.sender.example.com by mx.hill.test (pail) with ESMTPS id x; Mon, 07 Dec 2026 00:10:00 +0000
From: tlsrpt@mail.sender.example.com
Date: Fri, May 09 2017 16:54:30 -0800
To: postmaster@hill.test
Subject: Report Domain: company-y.example
  Submitter: mail.sender.example.com
  Report-ID: <735ff.e317+bf22029@mailexample.net>
TLS-Report-Domain: company-y.example
TLS-Report-Submitter: mail.sender.example.com
MIME-Version: 1.0
Content-Type: multipart/report; report-type="tlsrpt";
    boundary="----=_NextPart_000_024E_01CC9B0A.AFE54C00"
Content-Language: en-us

This is a multipart message in MIME format.

------=_NextPart_000_024E_01CC9B0A.AFE54C00
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit

This is an aggregate TLS report from mail.sender.example.com

------=_NextPart_000_024E_01CC9B0A.AFE54C00
Content-Type: application/tlsrpt+gzip
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
    filename="mail.sender.example!company-y.example!1013662812!1013749130.json.gz"

`+strings.Join(lines, "\n")+`
------=_NextPart_000_024E_01CC9B0A.AFE54C00--
`, "\n", "\r\n")
}

// TestReceiveRFCExample takes the report out of a message built as RFC
// 8460's example, stores it once (a resent copy is kept once), and lists
// it.
func TestReceiveRFCExample(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, t.TempDir())
	rc := NewReceiver(db, nil)
	rc.Now = fixedClock(time.Date(2026, 12, 7, 0, 10, 0, 0, time.UTC))
	msg := rfcMessage(gzipped(t, []byte(rfcReport)))
	if n := rc.Take(ctx, strings.NewReader(msg)); n != 1 {
		t.Fatalf("stored %d reports, want 1", n)
	}
	rc.Take(ctx, strings.NewReader(msg))
	got, err := db.ReceivedReports(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d reports stored, want 1", len(got))
	}
	rep := got[0].Report
	if rep.OrganizationName != "Company-X" || len(rep.Policies) != 1 || rep.Policies[0].Summary.Failed != 303 ||
		len(rep.Policies[0].FailureDetails) != 3 || rep.Policies[0].Policy.MXHost[0] != "*.mail.company-y.example" {
		t.Errorf("stored report %+v", rep)
	}
	var out bytes.Buffer
	WriteReceived(&out, got)
	for _, want := range []string{"Company-X", "company-y.example sts: 5326 successful, 303 failed", "200 x starttls-not-supported", "receiving-ip=203.0.113.56", "2016-04-01T00:00:00Z"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show --received output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestReceivePailReport reads back the mail pail itself sends, and a
// plain JSON part.
func TestReceivePailReport(t *testing.T) {
	rep, err := BuildReport("2026-12-06", "hill.test", testRows(), testSubmitter)
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := rep.Gzip()
	msg := ComposeMail(testSubmitter, "postmaster@ash.test", "postmaster@hill.test", rep, gz, time.Now())
	got, err := ExtractReports(bytes.NewReader(msg))
	if err != nil || len(got) != 1 || got[0].Report.ReportID != rep.ReportID {
		t.Fatalf("pail's own report mail: %v %v", got, err)
	}
	for _, h := range []string{"TLS-Report-Domain: hill.test\r\n", "TLS-Report-Submitter: mx.ash.test\r\n",
		"Subject: Report Domain: hill.test Submitter: mx.ash.test Report-ID: <" + rep.ReportID + ">\r\n",
		`Content-Type: multipart/report; report-type="tlsrpt"; boundary=`} {
		if !bytes.Contains(msg, []byte(h)) {
			t.Errorf("report mail lacks %q:\n%s", h, msg)
		}
	}
	plain := "Content-Type: application/tlsrpt+json\r\n\r\n" + rfcReport
	if got, err := ExtractReports(strings.NewReader(plain)); err != nil || len(got) != 1 {
		t.Errorf("a bare application/tlsrpt+json message: %v %v", got, err)
	}
}

// TestReceiveGzipBomb refuses a report that inflates past
// MaxReportBytes, without inflating it all, and stores nothing.
func TestReceiveGzipBomb(t *testing.T) {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write([]byte(`{"organization-name":"x","report-id":"`))
	zeros := make([]byte, 1<<20)
	for range 64 { // 64 MiB inflated
		zw.Write(zeros)
	}
	zw.Close()
	if b.Len() > MaxReportBytes {
		t.Fatalf("bomb is %d bytes compressed", b.Len())
	}
	db := openTestDB(t, t.TempDir())
	rc := NewReceiver(db, nil)
	start := time.Now()
	if n := rc.Take(context.Background(), strings.NewReader(rfcMessage(b.Bytes()))); n != 0 {
		t.Errorf("stored %d reports from a gzip bomb", n)
	}
	if _, err := ExtractReports(strings.NewReader(rfcMessage(b.Bytes()))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("gzip bomb: %v, want ErrTooLarge", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v: the bomb was inflated", d)
	}
}

// TestReceiveBad leaves a message without a parseable report alone.
func TestReceiveBad(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	rc := NewReceiver(db, nil)
	for _, msg := range []string{
		rfcMessage([]byte("not gzip")),
		rfcMessage(gzipped(t, []byte(`{"policies": []}`))),
		"Subject: hello\r\n\r\njust mail\r\n",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n",
	} {
		if n := rc.Take(context.Background(), strings.NewReader(msg)); n != 0 {
			t.Errorf("stored %d reports from %q", n, msg[:40])
		}
	}
	if !rc.Wants("Postmaster@hill.test") || !rc.Wants("tlsrpt@hill.test") || rc.Wants("ann@hill.test") || rc.Wants("postmaster") {
		t.Error("Wants: postmaster@ and tlsrpt@ only")
	}
}

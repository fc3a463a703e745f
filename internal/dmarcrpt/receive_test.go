package dmarcrpt

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func googleXML(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/google.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func zipped(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	zw.Close()
	return b.Bytes()
}

// reportMessage is a report mail as Google sends one: a single part, the
// attachment in base64, here of the media type and file name given.
func reportMessage(mediaType, filename string, attachment []byte) string {
	enc := base64.StdEncoding.EncodeToString(attachment)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	return strings.ReplaceAll(`Return-Path: <noreply-dmarc-support@google.com>
Received: from mail-yw1-f201.google.com by mx.hill.test (pail) with ESMTPS id x; Mon, 07 Dec 2026 03:10:00 +0000
From: noreply-dmarc-support@google.com
To: postmaster@hill.test
Subject: Report domain: hill.test Submitter: google.com Report-ID: 4823175309856127734
MIME-Version: 1.0
Content-Type: `+mediaType+`; 
	name="`+filename+`"
Content-Disposition: attachment; 
	filename="`+filename+`"
Content-Transfer-Encoding: base64

`+strings.Join(lines, "\n")+`
`, "\n", "\r\n")
}

// TestReceiveGoogleReport takes a report shaped as Google's out of mail
// in each form it comes in (zip, gzip, plain XML, and inside a
// multipart), stores it once however often it comes, and shows it per
// source address.
func TestReceiveGoogleReport(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, t.TempDir())
	xmlData := googleXML(t)
	rc := NewReceiver(db, nil)
	rc.Now = fixedClock(time.Date(2026, 12, 7, 3, 10, 0, 0, time.UTC))
	for _, msg := range []string{
		reportMessage("application/zip", "google.com!hill.test!1796515200!1796601599.zip", zipped(t, "google.com!hill.test!1796515200!1796601599.xml", xmlData)),
		reportMessage("application/gzip", "google.com!hill.test!1796515200!1796601599.xml.gz", gzipped(xmlData)),
		reportMessage("text/xml", "google.com!hill.test!1796515200!1796601599.xml", xmlData),
		reportMessage("application/octet-stream", "report.xml.gz", gzipped(xmlData)),
	} {
		if n := rc.Take(ctx, strings.NewReader(msg)); n != 1 {
			t.Errorf("stored %d reports from:\n%.400s", n, msg)
		}
	}
	got, err := db.ReceivedReports(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d reports stored, want the one", len(got))
	}
	rep := got[0].Report
	if rep.Metadata.OrgName != "google.com" || rep.Policy.Domain != "hill.test" || len(rep.Records) != 2 || rep.Records[0].Row.Count != 12 ||
		rep.Records[1].AuthResults.SPF[0].Result != "softfail" {
		t.Errorf("report %+v", rep)
	}
	var out bytes.Buffer
	if err := WriteReceived(&out, got); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Report 4823175309856127734 from google.com <noreply-dmarc-support@google.com>",
		"period 2026-12-06T00:00:00Z to 2026-12-06T23:59:59Z",
		"policy hill.test: p=reject sp=reject pct=100",
		"15 messages in 2 records",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("shown without %q:\n%s", want, out.String())
		}
	}
	for _, re := range []string{`203\.0\.113\.25 +12 +none +pass +pass +hill\.test +dkim=pass \(hill\.test s=pail1\) spf=pass \(hill\.test\)`,
		`198\.51\.100\.66 +3 +reject +fail +fail +hill\.test +spf=softfail \(bulk\.example\)`} {
		if !regexpMatch(re, out.String()) {
			t.Errorf("shown without %s:\n%s", re, out.String())
		}
	}
	if !rc.Wants("Postmaster@hill.test") || !rc.Wants("dmarc@hill.test") || rc.Wants("dave@hill.test") {
		t.Error("Wants takes postmaster@ and dmarc@ only")
	}
}

// TestReceiveBombs stops reading a gzip or zip bomb at MaxReportBytes
// of XML and stores nothing.
func TestReceiveBombs(t *testing.T) {
	huge := bytes.Repeat([]byte("<a>"), MaxReportBytes/3+100)
	for name, att := range map[string][]byte{"gzip": gzipped(huge), "zip": zipped(t, "bomb.xml", huge)} {
		// Decode itself stops: the XML is never held whole.
		if x, err := Decode(bytes.NewReader(att)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s bomb decoded to %d bytes, %v; want ErrTooLarge", name, len(x), err)
		}
		_, err := ExtractReports(strings.NewReader(reportMessage("application/"+name, "bomb."+name, att)))
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s bomb: %v, want ErrTooLarge", name, err)
		}
	}
}

// TestReceiveBad stores nothing from reports that do not parse or lack
// what every report has, and lets the message through.
func TestReceiveBad(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	rc := NewReceiver(db, nil)
	for name, data := range map[string][]byte{
		"not xml":       []byte("hello"),
		"no report id":  []byte("<feedback><report_metadata><org_name>x</org_name><date_range><begin>1</begin></date_range></report_metadata><policy_published><domain>hill.test</domain></policy_published></feedback>"),
		"not gzip":      append([]byte{0x1f, 0x8b}, "garbage"...),
		"zip of no xml": zipped(t, "readme.txt", []byte("hi")),
		"truncated":     googleXML(t)[:300],
	} {
		if n := rc.Take(context.Background(), strings.NewReader(reportMessage("application/gzip", "x.xml.gz", data))); n != 0 {
			t.Errorf("%s: stored %d", name, n)
		}
	}
	if n := rc.Take(context.Background(), strings.NewReader("Subject: hi\r\n\r\nno report here\r\n")); n != 0 {
		t.Errorf("plain message: stored %d", n)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

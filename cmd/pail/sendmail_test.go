package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSendmailArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want sendmailOptions
		cfg  string
		err  bool
	}{
		{args: []string{"bob@hill.test"}, want: sendmailOptions{rcpts: []string{"bob@hill.test"}}},
		{args: []string{"-t", "-i"}, want: sendmailOptions{extract: true, ignoreDots: true}},
		{args: []string{"-ti", "-oi", "-oem"}, want: sendmailOptions{extract: true, ignoreDots: true}},
		{args: []string{"-fjack@town.test", "-F", "Jack Sprat", "x"}, want: sendmailOptions{from: "jack@town.test", fromSet: true, fullName: "Jack Sprat", rcpts: []string{"x"}}},
		{args: []string{"-f", "<>", "-r", "a@b.c"}, want: sendmailOptions{from: "a@b.c", fromSet: true}},
		{args: []string{"-c", "/etc/pail.toml", "-N", "never", "--", "-odd@hill.test"}, cfg: "/etc/pail.toml", want: sendmailOptions{rcpts: []string{"-odd@hill.test"}}},
		{args: []string{"--config=/x.toml", "-bm", "-v", "a"}, cfg: "/x.toml", want: sendmailOptions{rcpts: []string{"a"}}},
		{args: []string{"-bp"}, want: sendmailOptions{listQueue: true}},
		{args: []string{"-q15m"}, want: sendmailOptions{flushQueue: true}},
		{args: []string{"-bs"}, err: true},
		{args: []string{"-f"}, err: true},
		{args: []string{"-Z"}, err: true},
	} {
		got, cfg, err := parseSendmailArgs(tc.args)
		if tc.err {
			if err == nil {
				t.Errorf("%q: no error", tc.args)
			}
			continue
		}
		if err != nil || cfg != tc.cfg || strings.Join(got.rcpts, " ") != strings.Join(tc.want.rcpts, " ") {
			t.Errorf("%q: %+v cfg %q err %v; want %+v cfg %q", tc.args, got, cfg, err, tc.want, tc.cfg)
			continue
		}
		got.rcpts, tc.want.rcpts = nil, nil
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func TestReadSendmailInput(t *testing.T) {
	for _, tc := range []struct {
		in         string
		ignoreDots bool
		want       string
	}{
		{in: "Subject: a\n\nbody\n", want: "Subject: a\r\n\r\nbody\r\n"},
		{in: "Subject: a\r\n\r\nbody", want: "Subject: a\r\n\r\nbody\r\n"},
		{in: "From jack Wed Nov 25 18:30:00 2026\nSubject: a\n\nb\n", want: "Subject: a\r\n\r\nb\r\n"},
		{in: "Subject: a\n\nb\n.\nnot read\n", want: "Subject: a\r\n\r\nb\r\n"},
		{in: "Subject: a\n\nb\n.\nread\n", ignoreDots: true, want: "Subject: a\r\n\r\nb\r\n.\r\nread\r\n"},
		{in: "Subject: a\n\n..x\n", want: "Subject: a\r\n\r\n..x\r\n"},
	} {
		got, err := readSendmailInput(strings.NewReader(tc.in), tc.ignoreDots, 1000)
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := readSendmailInput(strings.NewReader(strings.Repeat("x\n", 600)), false, 1000); err == nil {
		t.Errorf("a message over the limit was accepted")
	}
	// SMTP smuggling: a bare CR would reach the next hop as it came.
	for _, in := range []string{"Subject: a\n\nb\r.\r\nMAIL FROM:<x@y>\n", "Subject: a\n\nb\r\r\n"} {
		if got, err := readSendmailInput(strings.NewReader(in), false, 1000); err == nil {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}

func TestPrepareMessage(t *testing.T) {
	raw := "To: Bob <bob@hill.test>, carol@dale.test\r\nCc: dave@hill.test\r\nBcc: secret@hill.test,\r\n\tsecret2@hill.test\r\nSubject: hi\r\n\r\nbody\r\n"
	msg, rcpts, err := prepareMessage([]byte(raw), sendmailOptions{extract: true, fullName: "Jack Sprat"}, "jack@town.test")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rcpts, " "); got != "bob@hill.test carol@dale.test dave@hill.test secret@hill.test secret2@hill.test" {
		t.Errorf("recipients %s", got)
	}
	want := "To: Bob <bob@hill.test>, carol@dale.test\r\nCc: dave@hill.test\r\nSubject: hi\r\nFrom: \"Jack Sprat\" <jack@town.test>\r\n\r\nbody\r\n"
	if string(msg) != want {
		t.Errorf("message\n%q\nwant\n%q", msg, want)
	}

	// No header at all: the text is the body.
	msg, _, err = prepareMessage([]byte("just a line\r\n"), sendmailOptions{}, "cron@hill.test")
	if err != nil || string(msg) != "From: <cron@hill.test>\r\n\r\njust a line\r\n" {
		t.Errorf("headerless: %q, %v", msg, err)
	}
	if _, _, err := prepareMessage([]byte("To: <<bad\r\n\r\n"), sendmailOptions{extract: true}, "a@b.c"); err == nil {
		t.Errorf("a bad To header was accepted with -t")
	}
}

func TestSendmail(t *testing.T) {
	t.Setenv("USER", "cron")
	p := newPail(t)
	p.must("pw\n", "user", "add", "jill@hill.test", "--password-stdin")

	p.must("Subject: nightly\nTo: jill@hill.test\nBcc: bob@elsewhere.test\n\nAll is well.\n", "sendmail", "-t")
	out := p.must("", "export", "jill@hill.test")
	for _, want := range []string{"Return-Path: <cron@hill.test>", "Received: from local\n\tby mx.hill.test (pail) with LOCAL id ", "From: <cron@hill.test>", "Date: ", "Message-ID: <", "All is well."} {
		if !strings.Contains(out, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Bcc") {
		t.Errorf("Bcc header was delivered:\n%s", out)
	}
	// The remote Bcc recipient waits in the queue for the server.
	q := p.must("", "queue", "list")
	if !strings.Contains(q, "<cron@hill.test>") || !strings.Contains(q, "pending   bob@elsewhere.test  attempts=0") {
		t.Errorf("queue list:\n%s", q)
	}
	id := strings.Fields(strings.Split(q, "\n")[1])[0]
	show := p.must("", "queue", "show", id)
	if !strings.Contains(show, "recipient: bob@elsewhere.test") || !strings.Contains(show, "Subject: nightly") || strings.Contains(show, "Return-Path") {
		t.Errorf("queue show:\n%s", show)
	}
	if out := p.must("", "queue", "flush"); !strings.HasPrefix(out, "1 recipient(s) due now") {
		t.Errorf("queue flush: %s", out)
	}
	p.must("", "queue", "delete", id)
	if q := p.must("", "queue", "list"); q != "queue is empty\n" {
		t.Errorf("after delete:\n%s", q)
	}
	if _, err := p.run("", "queue", "delete", id); err == nil {
		t.Errorf("deleting a missing message succeeded")
	}

	// An unknown local user fails the command and nothing is stored.
	if _, err := p.run("Subject: x\n\ny\n", "sendmail", "-f", "jill@hill.test", "nobody@hill.test", "jill@hill.test"); err == nil || !strings.Contains(err.Error(), "nobody@hill.test") {
		t.Errorf("unknown recipient: %v", err)
	}
	if _, err := p.run("Subject: x\n\ny\n", "sendmail"); err == nil {
		t.Errorf("no recipients accepted")
	}
	if out := p.must("", "export", "jill@hill.test"); strings.Count(out, "\nFrom ")+1 != 1 {
		t.Errorf("a failed sendmail delivered something:\n%s", out)
	}
}

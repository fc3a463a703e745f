package remote

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func routeTo(addr string) Config {
	return Config{Hostname: "mx.town.test", Routes: map[string]string{"hill.test": addr}, Timeouts: fastTimeouts()}
}

func TestDeliverAccepted(t *testing.T) {
	p := startPeer(t, peerOptions{})
	c := New(routeTo(p.addr))
	res := deliver(t, c, "hill.test", newMessage("bob@hill.test", "carol@hill.test"))
	wantStatus(t, res, Delivered, Delivered)
	if res[0].Reply.Code != 250 || res[0].RemoteMTA != "127.0.0.1" || res[0].Addr != p.addr {
		t.Errorf("result %+v", res[0])
	}
	msgs := p.messages()
	if len(msgs) != 1 || p.sessions() != 1 {
		t.Fatalf("peer got %d messages in %d sessions, want 1 in 1 (one connection per domain)", len(msgs), p.sessions())
	}
	m := msgs[0]
	if m.from != "alice@town.test" || strings.Join(m.to, ",") != "bob@hill.test,carol@hill.test" {
		t.Errorf("envelope %s -> %v", m.from, m.to)
	}
	if m.helo != "mx.town.test" {
		t.Errorf("EHLO %q, want our hostname", m.helo)
	}
	if !m.tls {
		t.Errorf("STARTTLS was offered but not used")
	}
	if string(m.body) != testMessage {
		t.Errorf("body %q, want %q", m.body, testMessage)
	}
	if m.opts.Size != int64(len(testMessage)) {
		t.Errorf("MAIL SIZE=%d, want %d", m.opts.Size, len(testMessage))
	}
}

func TestDeliverNoTLSOffered(t *testing.T) {
	p := startPeer(t, peerOptions{noTLS: true})
	res := deliver(t, New(routeTo(p.addr)), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Delivered)
	if m := p.messages(); len(m) != 1 || m[0].tls {
		t.Errorf("messages %+v", m)
	}
}

func TestDeliverPerRecipientReplies(t *testing.T) {
	p := startPeer(t, peerOptions{})
	p.rcpt = func(to string) error {
		switch to {
		case "nobody@hill.test":
			return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "No such user here")
		case "full@hill.test":
			return smtpErr(452, smtp.EnhancedCode{4, 2, 2}, "Mailbox full")
		}
		return nil
	}
	res := deliver(t, New(routeTo(p.addr)), "hill.test", newMessage("bob@hill.test", "nobody@hill.test", "full@hill.test"))
	wantStatus(t, res, Delivered, Failed, Deferred)
	if r := res[1].Reply; r.Code != 550 || r.Enhanced != "5.1.1" || r.Text != "No such user here" {
		t.Errorf("reply for nobody: %+v", r)
	}
	if r := res[2].Reply; r.Code != 452 || r.Enhanced != "4.2.2" {
		t.Errorf("reply for full: %+v", r)
	}
	if m := p.messages(); len(m) != 1 || len(m[0].to) != 1 {
		t.Errorf("peer got %+v, want one message for bob", m)
	}
}

func TestDeliverAllRecipientsRejected(t *testing.T) {
	p := startPeer(t, peerOptions{})
	p.rcpt = func(string) error { return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "No such user") }
	res := deliver(t, New(routeTo(p.addr)), "hill.test", newMessage("a@hill.test", "b@hill.test"))
	wantStatus(t, res, Failed, Failed)
	if len(p.messages()) != 0 {
		t.Errorf("a message was sent with no accepted recipient")
	}
}

func TestDeliverMail451(t *testing.T) {
	p := startPeer(t, peerOptions{})
	p.mail = func(string) error { return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "Try later") }
	res := deliver(t, New(routeTo(p.addr)), "hill.test", newMessage("bob@hill.test", "carol@hill.test"))
	wantStatus(t, res, Deferred, Deferred)
	if res[0].Reply.Code != 451 {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestDeliverMail550(t *testing.T) {
	p := startPeer(t, peerOptions{})
	p.mail = func(string) error { return smtpErr(550, smtp.EnhancedCode{5, 7, 1}, "Sender refused") }
	wantStatus(t, deliver(t, New(routeTo(p.addr)), "hill.test", newMessage("bob@hill.test")), Failed)
}

func TestDeliverDataRejected(t *testing.T) {
	p := startPeer(t, peerOptions{})
	p.data = func(*smtp.Conn, []byte) error { return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "Content refused") }
	res := deliver(t, New(routeTo(p.addr)), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Failed)
	if res[0].Reply.Code != 554 {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestDeliverDataTemporary(t *testing.T) {
	p := startPeer(t, peerOptions{})
	p.data = func(*smtp.Conn, []byte) error { return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "Disk full") }
	wantStatus(t, deliver(t, New(routeTo(p.addr)), "hill.test", newMessage("bob@hill.test")), Deferred)
}

func TestDeliverSizeLimit(t *testing.T) {
	p := startPeer(t, peerOptions{maxSize: 20})
	res := deliver(t, New(routeTo(p.addr)), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Failed)
	if res[0].Reply.Enhanced != "5.3.4" {
		t.Errorf("reply %+v, want 5.3.4", res[0].Reply)
	}
}

func TestDeliverSmarthostAuth(t *testing.T) {
	p := startPeer(t, peerOptions{})
	p.user, p.pass = "relay", "s3cret"
	cfg := Config{Hostname: "mx.town.test", Smarthost: p.addr, SmarthostUsername: "relay", SmarthostPassword: "s3cret", Timeouts: fastTimeouts()}
	res := deliver(t, New(cfg), "example.org", newMessage("bob@example.org"))
	wantStatus(t, res, Delivered)
	if m := p.messages(); len(m) != 1 || !m[0].tls {
		t.Errorf("messages %+v, want one over TLS", m)
	}
	if strings.Join(p.auth, " ") != "relay:s3cret" {
		t.Errorf("AUTH attempts %v", p.auth)
	}

	cfg.SmarthostPassword = "wrong"
	res = deliver(t, New(cfg), "example.org", newMessage("bob@example.org"))
	wantStatus(t, res, Deferred)
	if !strings.Contains(res[0].Reply.Text, "credentials") {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestDeliverRouteOverridesMX(t *testing.T) {
	d := startDNS(t, []string{"hill.test. 300 IN MX 10 mx.elsewhere.test."})
	p := startPeer(t, peerOptions{})
	cfg := routeTo(p.addr)
	cfg.Resolver = d.Addr
	wantStatus(t, deliver(t, New(cfg), "HILL.test", newMessage("bob@hill.test")), Delivered)
	if d.Asked("hill.test. MX") {
		t.Errorf("a static route still looked up MX records")
	}
}

func TestDeliverPipelining(t *testing.T) {
	var got []byte
	s := startScripted(t, func(n int, c *rawConn) {
		c.greetEHLO(t, "PIPELINING", "8BITMIME")
		// A pipelining client sends the whole group before any reply;
		// one that waits would deadlock here and time out.
		c.expect(t, "MAIL FROM:<alice@town.test>")
		c.expect(t, "RCPT TO:<bob@hill.test>")
		c.expect(t, "RCPT TO:<nobody@hill.test>")
		c.expect(t, "DATA")
		c.say("250 2.1.0 OK", "250 2.1.5 OK", "550 5.1.1 No such user", "354 Go ahead")
		got = c.readData()
		c.say("250 2.0.0 Queued as 42")
		c.expect(t, "QUIT")
		c.say("221 2.0.0 Bye")
	})
	res := deliver(t, New(routeTo(s.addr)), "hill.test", newMessage("bob@hill.test", "nobody@hill.test"))
	wantStatus(t, res, Delivered, Failed)
	if string(got) != strings.Replace(testMessage, "\r\n.leading", "\r\n..leading", 1) {
		t.Errorf("data on the wire %q: dot-stuffing wrong", got)
	}
	if res[0].Reply.Text != "Queued as 42" {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestDeliverLockstepWithoutPipelining(t *testing.T) {
	s := startScripted(t, func(n int, c *rawConn) {
		c.greetEHLO(t)
		c.expect(t, "MAIL FROM:")
		c.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if l := c.line(); l != "" {
			t.Errorf("client sent %q before the MAIL reply without PIPELINING", l)
		}
		c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		c.say("250 OK")
		c.expect(t, "RCPT TO:")
		c.say("250 OK")
		c.expect(t, "DATA")
		c.say("354 Go ahead")
		c.readData()
		c.say("250 OK")
		c.expect(t, "QUIT")
		c.say("221 Bye")
	})
	wantStatus(t, deliver(t, New(routeTo(s.addr)), "hill.test", newMessage("bob@hill.test")), Delivered)
}

func TestDeliverDropMidData(t *testing.T) {
	s := startScripted(t, func(n int, c *rawConn) {
		c.greetEHLO(t, "PIPELINING")
		for range 3 {
			c.line()
		}
		c.say("250 OK", "250 OK", "354 Go ahead")
		c.line() // one line of data, then the connection drops
	})
	res := deliver(t, New(routeTo(s.addr)), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Deferred)
	if res[0].Reply.Enhanced != "4.4.2" {
		t.Errorf("reply %+v", res[0].Reply)
	}
}

func TestDeliverGarbage(t *testing.T) {
	for name, serve := range map[string]func(int, *rawConn){
		"greeting": func(n int, c *rawConn) { c.say("hello, I am not a mail server") },
		"ehlo": func(n int, c *rawConn) {
			c.say("220 mx.hill.test")
			c.line()
			c.say("250-mx.hill.test", "999 what")
		},
		"mixed codes": func(n int, c *rawConn) {
			c.say("220 mx.hill.test")
			c.line()
			c.say("250-mx.hill.test", "251 mixed")
		},
		"long line": func(n int, c *rawConn) { c.say("220 " + strings.Repeat("x", 10000)) },
	} {
		t.Run(name, func(t *testing.T) {
			s := startScripted(t, serve)
			res := deliver(t, New(routeTo(s.addr)), "hill.test", newMessage("bob@hill.test"))
			wantStatus(t, res, Deferred)
			if res[0].Reply.Enhanced != "4.5.0" {
				t.Errorf("reply %+v, want a 4.5.0 protocol error", res[0].Reply)
			}
		})
	}
}

func TestDeliverStall(t *testing.T) {
	stall := func(c *rawConn) { c.r.ReadString(0) } // until the client hangs up
	for name, serve := range map[string]func(int, *rawConn){
		"greeting": func(n int, c *rawConn) { stall(c) },
		"final dot": func(n int, c *rawConn) {
			c.greetEHLO(t, "PIPELINING")
			for range 3 {
				c.line()
			}
			c.say("250 OK", "250 OK", "354 Go ahead")
			c.readData()
			stall(c)
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := startScripted(t, serve)
			cfg := routeTo(s.addr)
			cfg.Timeouts.Greeting = 300 * time.Millisecond
			cfg.Timeouts.DataTerm = 300 * time.Millisecond
			start := time.Now()
			res := deliver(t, New(cfg), "hill.test", newMessage("bob@hill.test"))
			wantStatus(t, res, Deferred)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("a stalled server held Deliver for %v", d)
			}
			if !strings.Contains(res[0].Reply.Text, "timeout") {
				t.Errorf("reply %+v", res[0].Reply)
			}
		})
	}
}

func TestDeliverCancelled(t *testing.T) {
	s := startScripted(t, func(n int, c *rawConn) { c.r.ReadString(0) })
	cfg := routeTo(s.addr)
	cfg.Timeouts = DefaultTimeouts()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := New(cfg).Deliver(ctx, "hill.test", newMessage("bob@hill.test"))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Deliver ignored its context for %v", d)
	}
	wantStatus(t, res, Deferred)
}

func TestDeliverTLSHandshakeFailureFallsBack(t *testing.T) {
	s := startScripted(t, func(n int, c *rawConn) {
		c.greetEHLO(t, "STARTTLS")
		if n == 0 {
			c.expect(t, "STARTTLS")
			c.say("220 2.0.0 Ready")
			var hello [1]byte
			c.r.Read(hello[:]) // the ClientHello, answered with nonsense
			c.say("this is not TLS")
			return
		}
		c.expect(t, "MAIL FROM:")
		c.say("250 OK")
		c.expect(t, "RCPT TO:")
		c.say("250 OK")
		c.expect(t, "DATA")
		c.say("354 Go ahead")
		c.readData()
		c.say("250 OK")
		c.expect(t, "QUIT")
		c.say("221 Bye")
	})
	wantStatus(t, deliver(t, New(routeTo(s.addr)), "hill.test", newMessage("bob@hill.test")), Delivered)
}

func TestDeliverSTARTTLSInjection(t *testing.T) {
	s := startScripted(t, func(n int, c *rawConn) {
		if n > 0 {
			return
		}
		c.greetEHLO(t, "STARTTLS")
		c.expect(t, "STARTTLS")
		// A reply smuggled behind the 220 must not be taken as coming
		// over TLS.
		c.say("220 2.0.0 Ready", "250 injected")
		c.r.ReadString(0)
	})
	res := deliver(t, New(routeTo(s.addr)), "hill.test", newMessage("bob@hill.test"))
	wantStatus(t, res, Deferred)
}

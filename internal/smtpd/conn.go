package smtpd

import (
	"net"
	"sync"

	"pail/internal/dnsbl"
	"pail/internal/smtpserver"
)

// conn is smtpd's state for one accepted connection, beside the protocol
// engine's (smtpserver.Conn) that runs it: the blocklist answer for its
// client, which outlives the sessions (a new one after STARTTLS).
type conn struct {
	srv        *Server
	pc         *smtpserver.Conn
	remoteAddr net.Addr

	// The blocklist answer for the client, asked once per connection
	// (inbound.go): dnsbl is set before dnsblDone is closed.
	dnsblOnce sync.Once
	dnsblDone chan struct{}
	dnsbl     dnsbl.Result
}

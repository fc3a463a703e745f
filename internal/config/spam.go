package config

import (
	"fmt"
	"net/url"
	"time"
)

// DefaultRspamdController is where rspamd's controller worker listens by
// default (rspamd's worker-controller.inc: port 11334 on localhost); it
// takes the learnspam and learnham requests, which the normal worker
// (port 11333) refuses.
const DefaultRspamdController = "http://127.0.0.1:11334"

// DefaultSpamTimeout bounds one request to rspamd. A check runs while the
// SMTP client waits for the reply to its end of DATA, so it must be short;
// rspamd answers a local check in milliseconds.
const DefaultSpamTimeout = 5 * time.Second

// maxSpamTimeout is half the 10 minutes an SMTP client waits for the
// reply to the end of DATA (RFC 5321 §4.5.3.2.6), so that a slow rspamd
// can never make a client give up on a message pail will deliver.
const maxSpamTimeout = 5 * time.Minute

// Spam configures the spam filter ([spam], package rspamd): off unless
// rspamd is set.
type Spam struct {
	// Rspamd is the URL of rspamd's normal worker, which checks messages
	// (POST /checkv2), e.g. "http://127.0.0.1:11333"; empty: no rspamd.
	Rspamd string `toml:"rspamd"`
	// RspamdController is the URL of rspamd's controller worker, which
	// learns from what users file into and out of Junk (POST /learnspam,
	// /learnham); default DefaultRspamdController, empty: no learning.
	RspamdController string `toml:"rspamd_controller"`
	// RspamdPassword is sent in the Password header of requests to the
	// controller (rspamd's "enable_password"); empty: none.
	RspamdPassword string `toml:"rspamd_password"`
	// Timeout bounds each request to rspamd (default 5s).
	Timeout Duration `toml:"timeout"`
}

// validate checks the [spam] section.
func (s Spam) validate() error {
	for key, v := range map[string]string{"spam.rspamd": s.Rspamd, "spam.rspamd_controller": s.RspamdController} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("%s: %q is not an http:// or https:// URL of a server (no user, query or fragment)", key, v)
		}
	}
	if s.Timeout.Duration <= 0 || s.Timeout.Duration > maxSpamTimeout {
		return fmt.Errorf("spam.timeout: %s must be positive and at most %s", s.Timeout, maxSpamTimeout)
	}
	return nil
}

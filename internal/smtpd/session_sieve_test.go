package smtpd

import (
	"testing"

	"pail/internal/verify"
)

func TestSpamVerdict(t *testing.T) {
	for _, c := range []struct {
		d             verify.Decision
		score, percnt int
	}{
		{verify.Decision{Score: 0}, 1, 0},
		{verify.Decision{Score: -3}, 1, 0},
		{verify.Decision{Score: 3.9}, 5, 48},
		{verify.Decision{Score: 7.9}, 5, 49}, // not filed in Junk: below half
		{verify.Decision{Score: 1, Action: verify.Junk}, 5, 50},
		{verify.Decision{Score: 8, Action: verify.Junk}, 10, 100},
		{verify.Decision{Score: 50, Action: verify.Junk}, 10, 100},
		// An operator's junk_score of 10 moves the middle with it.
		{verify.Decision{Score: 8, JunkScore: 10}, 4, 40},
		{verify.Decision{Score: 10, JunkScore: 10, Action: verify.Junk}, 5, 50},
		{verify.Decision{Score: 20, JunkScore: 10, Action: verify.Junk}, 10, 100},
	} {
		v := spamVerdict(c.d)
		if !v.SpamTested || v.SpamScore != c.score || v.SpamPercent != c.percnt {
			t.Errorf("%+v: %+v, want score %d, %d%%", c.d, v, c.score, c.percnt)
		}
	}
}

func TestRejectReason(t *testing.T) {
	if got := rejectReason("No\r\n550 thanks\x00 "); got != "No 550 thanks" {
		t.Errorf("%q", got)
	}
	if got := rejectReason(""); got == "" {
		t.Error("empty reason")
	}
}

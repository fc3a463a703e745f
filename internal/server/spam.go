package server

import (
	"context"

	"pail/internal/imapd"
	"pail/internal/rspamd"
	"pail/internal/verify"
	"pail/internal/webmail"
)

// openSpam makes the rspamd client when [spam] rspamd is set, which
// judges every message at the end of DATA (spamJudge), and the Learner
// that IMAP and webmail tell of messages filed into or out of Junk when
// rspamd_controller is set too (Start runs it).
func (s *Server) openSpam() error {
	sc := s.cfg.Spam
	if sc.Rspamd == "" {
		return nil
	}
	c, err := rspamd.New(rspamd.Config{
		URL:           sc.Rspamd,
		ControllerURL: sc.RspamdController,
		Password:      sc.RspamdPassword,
		Timeout:       sc.Timeout.Duration,
		MTAName:       s.cfg.Hostname,
	}, s.metrics)
	if err != nil {
		return err
	}
	s.rspamd = c
	if sc.RspamdController == "" {
		s.log.Info("spam: rspamd without a controller; no learning from Junk", "rspamd", sc.Rspamd)
		return nil
	}
	s.learner = rspamd.NewLearner(c, s.store, s.log.With("proto", "rspamd"), s.metrics)
	s.log.Info("spam: rspamd learns from messages filed into and out of Junk", "rspamd", sc.Rspamd, "controller", sc.RspamdController)
	return nil
}

// spamJudge is the spam judge of the end-of-DATA pipeline: rspamd when
// [spam] rspamd is set, with score (the built-in score) judging the
// messages rspamd gives no answer for; score itself without rspamd.
func (s *Server) spamJudge(score verify.Judge) verify.Judge {
	if s.rspamd == nil {
		return score
	}
	return &rspamd.Judge{Client: s.rspamd, Fallback: score, Log: s.log.With("proto", "smtp")}
}

// spamOnlyPipeline is the end-of-DATA judgement with [inbound] checks
// off: rspamd alone when [spam] rspamd is set (it governs itself; the
// checks govern SPF, DKIM, DMARC and the built-in score), else none.
func (s *Server) spamOnlyPipeline() *verify.Pipeline {
	if s.rspamd == nil {
		return nil
	}
	return &verify.Pipeline{Judges: []verify.Judge{s.spamJudge(nil)}}
}

// startSpam runs the Learner until stopSpam.
func (s *Server) startSpam() {
	if s.learner == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.learner.Run(ctx)
	}()
	s.learnerStop = func() { cancel(); <-done }
}

// stopSpam stops the Learner; messages still queued are not learned.
func (s *Server) stopSpam() {
	if s.learnerStop != nil {
		s.learnerStop()
		s.learnerStop = nil
	}
}

// imapLearner is the Learner for IMAP, nil (not a nil pointer in an
// interface) without one.
func (s *Server) imapLearner() imapd.Learner {
	if s.learner == nil {
		return nil
	}
	return s.learner
}

// webmailLearner is the Learner for webmail, nil without one.
func (s *Server) webmailLearner() webmail.Learner {
	if s.learner == nil {
		return nil
	}
	return s.learner
}

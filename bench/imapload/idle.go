package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"pail/bench/imapload/imapc"
)

// idleSession is one connection held in IDLE.
type idleSession struct {
	c    *imapc.Client
	idle string // the IDLE command's tag
}

// runIdle opens cfg.idle sessions (cfg.ramp at a time), each LOGIN, SELECT,
// IDLE; once all are idle it creates cfg.readyFile, holds them for
// cfg.hold, then ends IDLE on each and sends NOOP to prove the session
// survived, and reports how many did.
func runIdle(cfg config) error {
	sessions := make([]*idleSession, cfg.idle)
	var failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	run := func(each func(i int) error) {
		next := atomic.Int64{}
		var wg sync.WaitGroup
		for range max(cfg.ramp, 1) {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(sessions) {
						return
					}
					if err := each(i); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}
			})
		}
		wg.Wait()
	}

	run(func(i int) error {
		c, err := imapc.Dial(context.Background(), cfg.addr)
		if err != nil {
			return err
		}
		s := &idleSession{c: c}
		if err := c.Login(cfg.username(i), cfg.pass); err != nil {
			c.Close()
			return fmt.Errorf("LOGIN %s: %w", cfg.username(i), err)
		}
		if err := c.Select(cfg.mailbox); err != nil {
			c.Close()
			return fmt.Errorf("SELECT: %w", err)
		}
		if s.idle, err = c.Idle(); err != nil {
			c.Close()
			return fmt.Errorf("IDLE: %w", err)
		}
		sessions[i] = s
		return nil
	})
	up := len(sessions) - int(failed.Load())
	setup := time.Since(start)
	fmt.Printf("imapload: %d of %d sessions in IDLE after %.1fs (%.0f set-ups/s) on %s\n",
		up, len(sessions), setup.Seconds(), float64(up)/setup.Seconds(), cfg.addr)
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Fprintln(os.Stderr, "imapload: first set-up error:", err)
	}
	if cfg.readyFile != "" {
		if err := os.WriteFile(cfg.readyFile, fmt.Appendf(nil, "%d\n", up), 0o644); err != nil {
			return err
		}
	}
	time.Sleep(cfg.hold)

	lost := atomic.Int64{}
	run(func(i int) error {
		s := sessions[i]
		if s == nil {
			return nil
		}
		defer s.c.Close()
		err := s.c.Done(s.idle)
		if err == nil {
			_, err = s.c.Command("NOOP", nil)
		}
		if err != nil {
			lost.Add(1)
			return nil
		}
		s.c.Logout()
		return nil
	})
	fmt.Printf("imapload: held %s; %d sessions answered NOOP after IDLE, %d were lost\n", cfg.hold, up-int(lost.Load()), lost.Load())
	fmt.Printf("RESULT sessions=%d failed=%d lost=%d setup_s=%.2f\n", up, len(sessions)-up, lost.Load(), setup.Seconds())
	if up == 0 {
		return errors.New("no session reached IDLE")
	}
	return nil
}

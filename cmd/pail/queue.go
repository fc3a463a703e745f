package main

import (
	"errors"
	"flag"
	"fmt"

	"pail/internal/admin"
	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/queue"
)

// timeFormat is how the queue commands show times (local time).
const timeFormat = "2006-01-02 15:04:05"

// openQueue loads the config and opens its outgoing queue, without
// delivering anything: a running server does that. Run as root, it works
// as the data directory's owner (becomeDataOwner).
func (e *env) openQueue() (*config.Config, *queue.Queue, error) {
	// pail sendmail queues through here: its mail is signed as the
	// server's is.
	cfg, keys, err := e.openDKIM()
	if err != nil {
		return nil, nil, err
	}
	q, err := queue.Open(e.ctx, queue.Config{
		Dir:      queue.DirIn(cfg.DataDir),
		Database: cfg.Store,
		Hostname: cfg.Hostname,
		Lifetime: cfg.Outbound.QueueLifetime.Duration,
		Signer: dkim.NewSigner(keys, dkim.Policy{
			Local:     cfg.IsLocalDomain,
			Disabled:  func(d string) bool { return !cfg.DKIM.SignsFor(d) },
			Selectors: cfg.DKIM.SelectorsFor,
			Host:      cfg.Hostname,
		}),
	})
	if err != nil {
		return nil, nil, err
	}
	return cfg, q, nil
}

func cmdQueueList(e *env, args []string) error {
	fs := flag.NewFlagSet("queue list", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "queue list"); err != nil {
		return err
	}
	_, q, err := e.openQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	msgs, err := q.List(e.ctx)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		fmt.Fprintln(e.stdout, "queue is empty")
		return nil
	}
	fmt.Fprintf(e.stdout, "%-26s %9s  %-19s  %s\n", "ID", "SIZE", "ARRIVED", "SENDER")
	pending := 0
	for _, m := range msgs {
		fmt.Fprintf(e.stdout, "%-26s %9d  %-19s  <%s>\n", m.ID, m.Size, m.Created.Local().Format(timeFormat), m.From)
		for _, r := range m.Recipients {
			line := fmt.Sprintf("    %-9s %s  attempts=%d", r.State, r.Address, r.Attempts)
			if r.State == queue.Pending {
				pending++
				line += "  next=" + r.NextAttempt.Local().Format(timeFormat)
			}
			fmt.Fprintln(e.stdout, line)
			if r.Attempts > 0 {
				fmt.Fprintf(e.stdout, "              (%s)\n", r.Reply())
			}
		}
	}
	fmt.Fprintf(e.stdout, "-- %d message(s), %d recipient(s) pending\n", len(msgs), pending)
	return nil
}

func cmdQueueShow(e *env, args []string) error {
	fs := flag.NewFlagSet("queue show", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "queue show ID"); err != nil {
		return err
	}
	_, q, err := e.openQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	m, err := q.Show(e.ctx, pos[0])
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "id:      %s\nfrom:    <%s>\narrived: %s\nsize:    %d\n", m.ID, m.From, m.Created.Local().Format(timeFormat), m.Size)
	for _, r := range m.Recipients {
		fmt.Fprintf(w, "\nrecipient: %s\n  state:        %s\n  attempts:     %d\n", r.Address, r.State, r.Attempts)
		if r.State == queue.Pending {
			fmt.Fprintf(w, "  next attempt: %s\n", r.NextAttempt.Local().Format(timeFormat))
		}
		if !r.LastAttempt.IsZero() {
			fmt.Fprintf(w, "  last attempt: %s\n  last reply:   %s\n", r.LastAttempt.Local().Format(timeFormat), r.Reply())
			if r.RemoteMTA != "" {
				fmt.Fprintf(w, "  remote MTA:   %s\n", r.RemoteMTA)
			}
		}
		if r.State == queue.Failed {
			fmt.Fprintf(w, "  DSN sent:     %t\n", r.Notified)
		}
	}
	fmt.Fprintln(w, "\n--- message ---")
	// Terminal-friendly line endings; the queue keeps CRLF.
	data, _, err := admin.Content(e.ctx, q, m, 0)
	if err != nil {
		return fmt.Errorf("queue show: %w", err)
	}
	_, err = w.Write(data)
	return err
}

func cmdQueueFlush(e *env, args []string) error {
	fs := flag.NewFlagSet("queue flush", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "queue flush"); err != nil {
		return err
	}
	_, q, err := e.openQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	n, err := q.Flush(e.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d recipient(s) due now; a running server tries them within %s\n", n, queue.DefaultPollInterval)
	return nil
}

func cmdQueueDelete(e *env, args []string) error {
	fs := flag.NewFlagSet("queue delete", flag.ContinueOnError)
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, -1, "queue delete ID..."); err != nil {
		return err
	}
	_, q, err := e.openQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	var errs []error
	for _, id := range pos {
		if err := q.Delete(e.ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", id)
	}
	return errors.Join(errs...)
}

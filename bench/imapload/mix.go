package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// defaultMix is what a mail client does to a mailbox it has open: mostly
// reading bodies and changing flags, some new mail, searches for unread
// mail, an occasional resynchronisation of all flags and re-SELECT, and
// expunging what it deleted.
const defaultMix = "select=2,fetchflags=5,fetchbody=35,store=25,append=15,search=10,expunge=8"

// opOrder is the order operations are reported in.
var opOrder = []string{"select", "fetchflags", "fetchbody", "store", "append", "search", "expunge", "noop"}

// Operations, one command each except expunge:
//
//	select      SELECT mailbox
//	fetchflags  FETCH 1:* (UID FLAGS)                 (refreshes the client's UID list)
//	fetchbody   UID FETCH <random uid> (BODY.PEEK[])
//	store       UID STORE <random uid> +FLAGS or -FLAGS (\Seen), half each
//	append      APPEND mailbox {size}                 (a new generated message)
//	search      UID SEARCH UNSEEN
//	expunge     UID STORE <own appended uids> +FLAGS.SILENT (\Deleted), then
//	            UID EXPUNGE of them (plain EXPUNGE without UIDPLUS)
//	noop        NOOP
type weighted struct {
	op     string
	weight int
}

func parseMix(s string) ([]weighted, int, error) {
	var mix []weighted
	total := 0
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, 0, fmt.Errorf("-mix: %q is not name=weight", part)
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, 0, fmt.Errorf("-mix: bad weight in %q", part)
		}
		known := false
		for _, op := range opOrder {
			known = known || op == name
		}
		if !known {
			return nil, 0, fmt.Errorf("-mix: unknown operation %q (known: %s)", name, strings.Join(opOrder, ", "))
		}
		mix = append(mix, weighted{name, n})
		total += n
	}
	if total == 0 {
		return nil, 0, errors.New("-mix: all weights are zero")
	}
	return mix, total, nil
}

// worker is one client of the mixed workload.
type worker struct {
	cfg     *config
	id      int
	rng     *rand.Rand
	c       *imapclient.Client
	uidplus bool
	uids    []imap.UID // UIDs known to be in the mailbox
	mine    []imap.UID // appended by this worker, not yet expunged
	seq     int        // appended messages so far
	st      stats
}

// connect logs in, selects the mailbox and learns its UIDs.
func (w *worker) connect() error {
	if w.c != nil {
		w.c.Close()
		w.c = nil
	}
	c, err := imapclient.DialInsecure(w.cfg.addr, nil)
	if err != nil {
		return err
	}
	w.c = c
	if err := c.Login(w.cfg.username(w.id), w.cfg.pass).Wait(); err != nil {
		return fmt.Errorf("LOGIN %s: %w", w.cfg.username(w.id), err)
	}
	w.uidplus = c.Caps().Has(imap.CapUIDPlus)
	if _, err := c.Select(w.cfg.mailbox, nil).Wait(); err != nil {
		return fmt.Errorf("SELECT: %w", err)
	}
	return w.fetchFlags()
}

func (w *worker) fetchFlags() error {
	w.uids = w.uids[:0]
	if mb := w.c.Mailbox(); mb == nil || mb.NumMessages == 0 {
		return w.c.Noop().Wait()
	}
	cmd := w.c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true})
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		buf, err := msg.Collect()
		if err != nil {
			cmd.Close()
			return err
		}
		if buf.UID != 0 {
			w.uids = append(w.uids, buf.UID)
		}
	}
	return cmd.Close()
}

func (w *worker) randomUID() imap.UID {
	if len(w.uids) == 0 {
		return 1
	}
	return w.uids[w.rng.IntN(len(w.uids))]
}

// do runs one operation.
func (w *worker) do(op string) error {
	c := w.c
	switch op {
	case "select":
		_, err := c.Select(w.cfg.mailbox, nil).Wait()
		return err
	case "fetchflags":
		return w.fetchFlags()
	case "fetchbody":
		sect := &imap.FetchItemBodySection{Peek: true}
		bufs, err := c.Fetch(imap.UIDSetNum(w.randomUID()), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sect}}).Collect()
		if err == nil && len(bufs) == 1 && len(bufs[0].FindBodySection(sect)) == 0 {
			err = errors.New("FETCH BODY.PEEK[]: empty body")
		}
		return err
	case "store":
		sf := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}
		if w.rng.IntN(2) == 0 {
			sf.Op = imap.StoreFlagsDel
		}
		return c.Store(imap.UIDSetNum(w.randomUID()), sf, nil).Close()
	case "append":
		w.seq++
		msg := message(1_000_000+w.id*100_000+w.seq, w.cfg.size, "\r\n")
		cmd := c.Append(w.cfg.mailbox, int64(len(msg)), nil)
		if _, err := cmd.Write(msg); err != nil {
			cmd.Close()
			return err
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		data, err := cmd.Wait()
		if err != nil {
			return err
		}
		if data.UID != 0 {
			w.mine = append(w.mine, data.UID)
			w.uids = append(w.uids, data.UID)
		}
		return nil
	case "search":
		_, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
		return err
	case "expunge":
		set := imap.UIDSetNum(w.mine...)
		sf := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
		if err := c.Store(set, sf, nil).Close(); err != nil {
			return err
		}
		var err error
		if w.uidplus {
			err = c.UIDExpunge(set).Close()
		} else {
			err = c.Expunge().Close()
		}
		if err != nil {
			return err
		}
		gone := map[imap.UID]bool{}
		for _, u := range w.mine {
			gone[u] = true
		}
		w.uids = slices.DeleteFunc(w.uids, func(u imap.UID) bool { return gone[u] })
		w.mine = w.mine[:0]
		return nil
	case "noop":
		return c.Noop().Wait()
	}
	return fmt.Errorf("unknown operation %q", op)
}

// broken reports whether err ended the connection (as opposed to a NO or
// BAD answer, after which the session goes on).
func broken(err error) bool {
	var ie *imap.Error
	return err != nil && !errors.As(err, &ie)
}

func runMix(cfg config) error {
	mix, total, err := parseMix(cfg.mix)
	if err != nil {
		return err
	}
	pick := func(rng *rand.Rand) string {
		n := rng.IntN(total)
		for _, m := range mix {
			if n < m.weight {
				return m.op
			}
			n -= m.weight
		}
		return mix[len(mix)-1].op
	}

	workers := make([]*worker, cfg.clients)
	var wg sync.WaitGroup
	setupErrs := make([]error, cfg.clients)
	for i := range workers {
		w := &worker{cfg: &cfg, id: i, rng: rand.New(rand.NewPCG(uint64(cfg.seed), uint64(i))), st: stats{}}
		workers[i] = w
		wg.Go(func() { setupErrs[i] = w.connect() })
	}
	wg.Wait()
	for _, err := range setupErrs {
		if err != nil {
			return fmt.Errorf("set-up: %w", err)
		}
	}

	fmt.Printf("imapload: %d clients on %d accounts (%s), %s on %s, mix %s\n",
		cfg.clients, cfg.users, cfg.username(0), cfg.duration, cfg.addr, cfg.mix)
	var cpu0 float64
	if len(cfg.cpuacct) > 0 {
		if cpu0, err = cpuSeconds(cfg.cpuacct); err != nil {
			return err
		}
	}
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var printed sync.Mutex // serialises error lines
	nprinted := 0
	var nreconnect atomic.Int64
	for _, w := range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				op := pick(w.rng)
				if op == "expunge" && len(w.mine) == 0 {
					op = "append"
				}
				t := time.Now()
				err := w.do(op)
				w.st.add(op, time.Since(t), err)
				if err == nil {
					continue
				}
				printed.Lock()
				if cfg.verbose || nprinted < 10 {
					fmt.Fprintf(os.Stderr, "imapload: client %d %s: %v\n", w.id, op, err)
					nprinted++
				}
				printed.Unlock()
				if broken(err) && time.Now().Before(deadline) {
					nreconnect.Add(1)
					for w.connect() != nil && time.Now().Before(deadline) {
						time.Sleep(100 * time.Millisecond)
					}
				}
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var cpu1 float64
	if len(cfg.cpuacct) > 0 {
		if cpu1, err = cpuSeconds(cfg.cpuacct); err != nil {
			return err
		}
	}
	for _, w := range workers {
		wg.Go(func() {
			if w.c != nil {
				w.c.Logout().Wait()
				w.c.Close()
			}
		})
	}
	wg.Wait()

	all := stats{}
	for _, w := range workers {
		all.merge(w.st)
	}
	ops, errs := all.print(os.Stdout, secs, opOrder)
	result := fmt.Sprintf("RESULT ops=%d seconds=%.3f ops_per_s=%.1f errors=%d reconnects=%d", ops, secs, float64(ops)/secs, errs, nreconnect.Load())
	if len(cfg.cpuacct) > 0 {
		result += fmt.Sprintf(" server_cpu_s=%.3f", cpu1-cpu0)
	}
	fmt.Println(result)
	return nil
}

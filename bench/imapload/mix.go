package main

import (
	"context"
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

	"pail/bench/imapload/imapc"
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
	c       *imapc.Client
	uidplus bool
	uids    []uint32 // UIDs known to be in the mailbox
	mine    []uint32 // appended by this worker, not yet expunged
	seq     int      // appended messages so far
	st      stats
}

// connect logs in, selects the mailbox and learns its UIDs.
func (w *worker) connect() error {
	if w.c != nil {
		w.c.Close()
		w.c = nil
	}
	c, err := imapc.Dial(context.Background(), w.cfg.addr)
	if err != nil {
		return err
	}
	w.c = c
	if err := c.Login(w.cfg.username(w.id), w.cfg.pass); err != nil {
		return fmt.Errorf("LOGIN %s: %w", w.cfg.username(w.id), err)
	}
	w.uidplus = c.Has("UIDPLUS")
	if err := c.Select(w.cfg.mailbox); err != nil {
		return fmt.Errorf("SELECT: %w", err)
	}
	return w.fetchFlags()
}

func (w *worker) fetchFlags() error {
	w.uids = w.uids[:0]
	if w.c.Exists == 0 {
		_, err := w.c.Command("NOOP", nil)
		return err
	}
	_, err := w.c.Command("FETCH 1:* (UID FLAGS)", func(r imapc.Response) {
		if uid := imapc.FetchUID(r); uid != 0 {
			w.uids = append(w.uids, uid)
		}
	})
	return err
}

func (w *worker) randomUID() uint32 {
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
		return c.Select(w.cfg.mailbox)
	case "fetchflags":
		return w.fetchFlags()
	case "fetchbody":
		// A UID another client has expunged fetches nothing, no error;
		// other clients' flag changes may come as FETCH without a body.
		uid := w.randomUID()
		fetched, body := false, false
		_, err := c.Command(fmt.Sprintf("UID FETCH %d (UID BODY.PEEK[])", uid), func(r imapc.Response) {
			fetched = fetched || imapc.FetchUID(r) == uid
			body = body || len(r.Literals) == 1 && len(r.Literals[0]) > 0
		})
		if err == nil && fetched && !body {
			err = errors.New("FETCH BODY.PEEK[]: empty body")
		}
		return err
	case "store":
		sign := "+"
		if w.rng.IntN(2) == 0 {
			sign = "-"
		}
		_, err := c.Command(fmt.Sprintf("UID STORE %d %sFLAGS (\\Seen)", w.randomUID(), sign), nil)
		return err
	case "append":
		w.seq++
		msg := message(1_000_000+w.id*100_000+w.seq, w.cfg.size, "\r\n")
		uid, err := c.Append(w.cfg.mailbox, msg)
		if err != nil {
			return err
		}
		if uid != 0 {
			w.mine = append(w.mine, uid)
			w.uids = append(w.uids, uid)
		}
		return nil
	case "search":
		_, err := c.Command("UID SEARCH UNSEEN", nil)
		return err
	case "expunge":
		set := imapc.UIDSet(w.mine)
		if _, err := c.Command("UID STORE "+set+" +FLAGS.SILENT (\\Deleted)", nil); err != nil {
			return err
		}
		var err error
		if w.uidplus {
			_, err = c.Command("UID EXPUNGE "+set, nil)
		} else {
			_, err = c.Command("EXPUNGE", nil)
		}
		if err != nil {
			return err
		}
		gone := map[uint32]bool{}
		for _, u := range w.mine {
			gone[u] = true
		}
		w.uids = slices.DeleteFunc(w.uids, func(u uint32) bool { return gone[u] })
		w.mine = w.mine[:0]
		return nil
	case "noop":
		_, err := c.Command("NOOP", nil)
		return err
	}
	return fmt.Errorf("unknown operation %q", op)
}

// broken reports whether err ended the connection (as opposed to a NO or
// BAD answer, after which the session goes on).
func broken(err error) bool {
	var ie *imapc.Error
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
				w.c.Logout()
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

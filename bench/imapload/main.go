// Command imapload is the load generator behind bench/imap.sh, bench/idle.sh
// and bench/pop3.sh. It talks to any IMAP or POP3 server over plain TCP with
// LOGIN/USER+PASS (both pail and Dovecot allow that from loopback), so the
// same workload runs against pail and against a peer in one benchmark run.
//
// Modes (one per run):
//
//	imapload -addr A -c N -d D          mixed IMAP workload (the default)
//	imapload -addr A -idle N -hold D    N sessions in IDLE, held for D
//	imapload -addr A -pop3 -d D         POP3 RETR of every message, no DELE,
//	                                    full passes for D after an untimed login
//	imapload -write-mbox F -n M         M generated messages as an mbox
//	imapload -write-maildir D -n M      the same messages as a Maildir
//	imapload -write-mbox F -n M -corpus a realistic mailbox of M messages (scale.go)
//	imapload -addr A -time-cmds 'C1;C2' each command once on one session, timed
//	imapload -argon2 PASSWORD           a Dovecot passwd-file hash as costly as pail's
//
// Accounts come from -user, a pattern with one %d (u%d@hill.test), numbered
// from -first; client i logs in as account first+(i mod -users). With
// -users 1 all clients share one mailbox.
//
// With -cpuacct DIR (a cgroup v1 cpuacct directory, repeatable), the CPU
// time the server spent during the timed window is read from the cgroup and
// printed, so set-up (logins, SELECT) is not charged to the workload.
//
// The last line of every load mode is a machine-readable summary,
// "RESULT key=value ...", which the bench scripts parse.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// config holds the command line.
type config struct {
	addr     string
	user     string
	pass     string
	users    int
	first    int
	clients  int
	duration time.Duration
	mix      string
	mailbox  string
	size     int
	seed     int64
	cpuacct  multiFlag
	verbose  bool

	idle      int
	hold      time.Duration
	ramp      int
	readyFile string

	pop3   bool
	passes int

	writeMbox    string
	writeMaildir string
	count        int
	hash         string

	corpus   bool
	timeCmds string
}

// multiFlag is a flag that may be given more than once.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:143", "server `host:port`")
	flag.StringVar(&cfg.user, "user", "u%d@hill.test", "user name `pattern`; %d is the account number")
	flag.StringVar(&cfg.pass, "pass", "pw", "password of every account")
	flag.IntVar(&cfg.users, "users", 1, "number of accounts (client i uses account first+i%users)")
	flag.IntVar(&cfg.first, "first", 1, "number of the first account")
	flag.IntVar(&cfg.clients, "c", 10, "concurrent clients (mixed workload)")
	flag.DurationVar(&cfg.duration, "d", 10*time.Second, "duration of the timed window (mixed workload; POP3: full downloads until this has passed, 0 for -passes)")
	flag.StringVar(&cfg.mix, "mix", defaultMix, "operation `weights`, name=weight,...")
	flag.StringVar(&cfg.mailbox, "mailbox", "INBOX", "mailbox to work on")
	flag.IntVar(&cfg.size, "size", 4096, "size in bytes of appended and generated messages")
	flag.Int64Var(&cfg.seed, "seed", 1, "random seed")
	flag.Var(&cfg.cpuacct, "cpuacct", "cgroup v1 cpuacct `dir` of the server, to report its CPU time in the timed window (repeatable)")
	flag.BoolVar(&cfg.verbose, "v", false, "print every error")
	flag.IntVar(&cfg.idle, "idle", 0, "IDLE mode: open this many sessions, SELECT, IDLE")
	flag.DurationVar(&cfg.hold, "hold", 10*time.Second, "IDLE mode: how long to hold the sessions once all are idle")
	flag.IntVar(&cfg.ramp, "ramp", 50, "IDLE mode: sessions being set up at the same time")
	flag.StringVar(&cfg.readyFile, "ready", "", "IDLE mode: create this `file` once all sessions are in IDLE")
	flag.BoolVar(&cfg.pop3, "pop3", false, "POP3 mode: log in as account -first (untimed), then RETR every message, pass after pass for -d")
	flag.IntVar(&cfg.passes, "passes", 1, "POP3 mode with -d 0: full downloads of the maildrop")
	flag.StringVar(&cfg.writeMbox, "write-mbox", "", "write -n generated messages to this mbox `file` and exit")
	flag.StringVar(&cfg.writeMaildir, "write-maildir", "", "write -n generated messages into this Maildir `dir` and exit")
	flag.IntVar(&cfg.count, "n", 1000, "number of messages for -write-mbox / -write-maildir")
	flag.BoolVar(&cfg.corpus, "corpus", false, "-write-mbox: the realistic corpus of bench/scale.sh (2–8 KiB, some multipart, encoded words, two years of dates)")
	flag.StringVar(&cfg.timeCmds, "time-cmds", "", "log in as account -first, SELECT, then time each of these `commands` (separated by ;) once")
	flag.StringVar(&cfg.hash, "argon2", "", "print `password` hashed as pail hashes it, for a Dovecot passwd-file, and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "imapload: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	if cfg.users < 1 || cfg.clients < 1 || cfg.size < 512 || cfg.passes < 1 {
		fmt.Fprintln(os.Stderr, "imapload: -users, -c and -passes must be positive, -size at least 512")
		os.Exit(2)
	}
	if !strings.Contains(cfg.user, "%d") {
		cfg.users = 1
	}

	var err error
	switch {
	case cfg.hash != "":
		var h string
		if h, err = dovecotHash(cfg.hash); err == nil {
			fmt.Println(h)
		}
	case cfg.writeMbox != "" && cfg.corpus:
		err = writeCorpus(cfg.writeMbox, cfg.count, cfg.seed)
	case cfg.writeMbox != "":
		err = writeMbox(cfg.writeMbox, cfg.count, func(n int) (time.Time, []byte) { return benchMessage(n, cfg.size) })
	case cfg.timeCmds != "":
		err = runTimeCmds(cfg)
	case cfg.writeMaildir != "":
		err = writeMaildir(cfg.writeMaildir, cfg.count, cfg.size)
	case cfg.pop3:
		err = runPOP3(cfg)
	case cfg.idle > 0:
		err = runIdle(cfg)
	default:
		err = runMix(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imapload:", err)
		os.Exit(1)
	}
}

// username returns the login name of account n.
func (cfg *config) username(client int) string {
	n := cfg.first + client%cfg.users
	if strings.Contains(cfg.user, "%d") {
		return strings.Replace(cfg.user, "%d", strconv.Itoa(n), 1)
	}
	return cfg.user
}

// cpuSeconds sums cpuacct.usage over the given cgroup directories.
func cpuSeconds(dirs []string) (float64, error) {
	var total float64
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cpuacct.usage")
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s/cpuacct.usage: %w", d, err)
		}
		total += float64(ns) / 1e9
	}
	return total, nil
}

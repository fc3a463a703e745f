// Command pail is a complete Internet mail system in one binary: `pail
// serve` runs the SMTP server and the other services, and the admin
// commands (user, alias, export, import) manage the same data directory
// whether or not the server is running.
//
// Usage:
//
//	pail [-c FILE] COMMAND [ARGS]
//
// See `pail help` and the README for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"pail/internal/config"
	"pail/internal/store"
)

const usage = `usage: pail [-c FILE] COMMAND [ARGS]

Commands:
  setup DOMAIN [--hostname HOST] [--dir DIR]
                                      a production configuration in DIR (default
                                      .): pail.toml, data/ with the admin account
                                      postmaster@DOMAIN (its password printed once)
                                      and DKIM keys, log/; then the DNS records
                                      to publish and a checklist
  serve                               run the server
  user add ADDR [--password-stdin] [--admin]
  user list
  user delete ADDR
  user passwd ADDR [--password-stdin]
  user admin ADDR [--off]             make an account an admin (--off: no longer);
                                      the last admin keeps the flag
  user quota ADDR SIZE                storage quota: octets or 500M, 2G (0: none;
                                      default: [limits] quota_bytes)
  alias add ALIAS TARGET...
  alias list
  alias delete ALIAS [TARGET...]
  sieve put ADDR NAME [FILE] [--activate]
                                      store a Sieve script (stdin without FILE),
                                      compiled first: errors name line and column
  sieve get ADDR NAME                 print a script
  sieve list ADDR                     the account's scripts: name, size, date, active
  sieve activate ADDR NAME|--off      the script run at delivery (--off: none)
  sieve delete ADDR NAME              remove a script (not the active one)
  export ADDR [--folder NAME]         write a mailbox as mbox to stdout
  import ADDR FILE [--folder NAME]    add the messages of an mbox file
  reindex ADDR                        rebuild the account's full-text search index
  check [--repair]                    verify the store: rows, files, UIDs, sizes;
                                      --repair removes what a crash left behind
  status [--metrics]                  what the running server is doing
  queue list                          the outgoing queue, with each recipient's state
  queue show ID                       one queued message: envelope, attempts, content
  queue flush                         try every queued recipient now
  queue delete ID...                  drop queued messages without a bounce
  dkim list [DOMAIN]                  each local domain's DKIM selectors, their state
                                      and the TXT record to publish for each
  dkim rotate DOMAIN                  new signing keys; the old ones keep verifying
  dkim retire DOMAIN SELECTOR         remove a rotated-out selector
  tlsrpt show [--date YYYY-MM-DD]     outbound TLS sessions per policy domain that day
                                      (UTC; default today): successes, failures by type
  tlsrpt show --received              the TLS reports (RFC 8460) other servers sent us
  tlsrpt send [--date YYYY-MM-DD]     send that day's reports now (default yesterday;
                                      what was sent before is not sent again)
  dmarc show [--day YYYY-MM-DD]       DMARC results of inbound mail that day (UTC;
                                      default today) per policy domain and source
  dmarc show --received               the DMARC aggregate reports other receivers sent us
  dmarc send-reports [--day YYYY-MM-DD]
                                      send that day's DMARC reports now (default
                                      yesterday; even with [dmarc] reports off)
  dns-records DOMAIN                  the DNS records DOMAIN publishes for pail
                                      (MX, SPF, DKIM, DMARC, SRV), as zone-file lines
  doctor [--json] [--user NAME]       check DNS (MX, PTR, SPF, DKIM, DMARC, MTA-STS,
                                      TLS-RPT, blocklists), the certificate and the
                                      data directory; exit status 1 if any check FAILs
  proxy --listen ADDR --origin URL    run only the web cache (reverse proxy to URL,
                                      with --forward also a forward proxy)
  sendmail [-t] [-i] [-f ADDR] [-F NAME] [RCPT...]
                                      send the message on stdin (sendmail interface)
  dns --listen ADDR --zone FILE [--zone FILE ...] [--rate-limit N] [--tls-listen ADDR]
                                      run only the name server ([dns] of -c FILE
                                      adds pools); SIGHUP reloads the zones
  dns ds ZONE                         the DS record of ZONE's DNSSEC key for the parent
                                      (the key is made if [dns] dnssec has not yet)
  dns rollover [--finish] ZONE        begin (or end) a double-signature key roll-over

Every command takes -c FILE (or --config FILE, or $PAIL_CONFIG) to name the
TOML configuration; without one the built-in defaults are used.
`

// env is what a command runs with.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	config string // config file path, "" for defaults
}

func main() {
	e := &env{ctx: context.Background(), stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, config: os.Getenv("PAIL_CONFIG")}
	args := os.Args[1:]
	// Installed as (or linked to) "sendmail", pail behaves as sendmail, so
	// cron and other programs can use it unchanged; the config then comes
	// from $PAIL_CONFIG.
	if filepath.Base(os.Args[0]) == "sendmail" {
		args = append([]string{"sendmail"}, args...)
	}
	if err := run(e, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "pail:", err)
		os.Exit(1)
	}
}

// commands maps a command path to its handler.
var commands = map[string]func(e *env, args []string) error{
	"setup":              cmdSetup,
	"serve":              cmdServe,
	"user add":           cmdUserAdd,
	"user list":          cmdUserList,
	"user delete":        cmdUserDelete,
	"user passwd":        cmdUserPasswd,
	"user admin":         cmdUserAdmin,
	"user quota":         cmdUserQuota,
	"alias add":          cmdAliasAdd,
	"alias list":         cmdAliasList,
	"alias delete":       cmdAliasDelete,
	"export":             cmdExport,
	"import":             cmdImport,
	"reindex":            cmdReindex,
	"check":              cmdCheck,
	"status":             cmdStatus,
	"queue list":         cmdQueueList,
	"queue show":         cmdQueueShow,
	"queue flush":        cmdQueueFlush,
	"queue delete":       cmdQueueDelete,
	"dkim list":          cmdDKIMList,
	"dkim rotate":        cmdDKIMRotate,
	"dkim retire":        cmdDKIMRetire,
	"dns-records":        cmdDNSRecords,
	"doctor":             cmdDoctor,
	"tlsrpt show":        tlsrptCommands().cmdShow,
	"tlsrpt send":        tlsrptCommands().cmdSend,
	"dmarc show":         dmarcCommands().cmdShow,
	"dmarc send-reports": dmarcCommands().cmdSend,
	"sieve put":          cmdSievePut,
	"sieve get":          cmdSieveGet,
	"sieve list":         cmdSieveList,
	"sieve activate":     cmdSieveActivate,
	"sieve delete":       cmdSieveDelete,
	"sendmail":           cmdSendmail,
	"proxy":              cmdProxy,
	"dns":                cmdDNS,
}

func run(e *env, args []string) error {
	// Global flags before the command.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-c" || args[0] == "--config" || args[0] == "-config":
			if len(args) < 2 {
				return errors.New("-c needs a file name")
			}
			e.config, args = args[1], args[2:]
		case strings.HasPrefix(args[0], "-c=") || strings.HasPrefix(args[0], "--config="):
			e.config = args[0][strings.IndexByte(args[0], '=')+1:]
			args = args[1:]
		case args[0] == "-h" || args[0] == "--help" || args[0] == "-help":
			fmt.Fprint(e.stdout, usage)
			return nil
		default:
			return fmt.Errorf("unknown flag %s\n%s", args[0], usage)
		}
	}
	if len(args) == 0 || args[0] == "help" {
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	name := args[0]
	rest := args[1:]
	if _, ok := commands[name]; !ok && len(rest) > 0 {
		name, rest = args[0]+" "+args[1], args[2:]
	}
	cmd, ok := commands[name]
	if !ok {
		return fmt.Errorf("unknown command %q\n%s", strings.Join(args[:min(2, len(args))], " "), usage)
	}
	return cmd(e, rest)
}

// parseFlags parses fs from args, allowing flags and positional arguments
// in any order, and returns the positional ones. Every command gets -c.
func (e *env) parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(e.stderr)
	fs.StringVar(&e.config, "c", e.config, "configuration `file`")
	fs.StringVar(&e.config, "config", e.config, "configuration `file`")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (e *env) loadConfig() (*config.Config, error) {
	return config.Load(e.config)
}

// openStore loads the config and opens its store, as the data directory's
// owner when run as root (becomeDataOwner).
func (e *env) openStore() (*config.Config, *store.Store, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if err := becomeDataOwner(cfg.DataDir); err != nil {
		return nil, nil, err
	}
	st, err := store.OpenConfigured(e.ctx, cfg.DataDir, cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// wantArgs checks the number of positional arguments.
func wantArgs(args []string, min, max int, form string) error {
	if len(args) < min || (max >= 0 && len(args) > max) {
		return fmt.Errorf("usage: pail %s", form)
	}
	return nil
}

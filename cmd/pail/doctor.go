package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"sync"

	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/doctor"
	"pail/internal/resolve"
)

// cmdDoctor runs the checks of package doctor and prints one line each
// (or, with --json, the report), keeps the report in data_dir/doctor.json
// for the admin page, and fails (exit status 1) when a check fails, so
// that cron or a monitoring system can run it.
func cmdDoctor(e *env, args []string) error {
	fset := flag.NewFlagSet("doctor", flag.ContinueOnError)
	asJSON := fset.Bool("json", false, "print the report as JSON instead of lines")
	serverUser := fset.String("user", "", "the `user` pail serve runs as (default: the one running pail doctor)")
	pos, err := e.parseFlags(fset, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "doctor [--json] [--user NAME]"); err != nil {
		return err
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	// Who runs the server: named, or (guessed) whoever runs this, taken
	// before becomeDataOwner changes it.
	uid, guessed := os.Geteuid(), true
	name := ""
	if *serverUser != "" {
		u, err := user.Lookup(*serverUser)
		if err != nil {
			if u, err = user.LookupId(*serverUser); err != nil {
				return fmt.Errorf("doctor: --user %s: no such user", *serverUser)
			}
		}
		if uid, err = strconv.Atoi(u.Uid); err != nil {
			return fmt.Errorf("doctor: --user %s: user ID %q", *serverUser, u.Uid)
		}
		guessed, name = false, u.Username
	}
	if err := becomeDataOwner(cfg.DataDir); err != nil {
		return err
	}
	rep := doctor.Run(e.ctx, doctor.Options{
		Config:     cfg,
		Resolver:   resolve.New(cfg.Resolver, 0),
		Keys:       dkimKeys(e.ctx, cfg),
		DNSBL:      cfg.DoctorDNSBL(),
		ServerUID:  uid,
		ServerUser: name,
		UIDGuessed: guessed,
	})
	if *asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("doctor: %w", err)
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		for _, r := range rep.Results {
			fmt.Fprintf(e.stdout, "%-4s  %s: %s", r.Status, r.Check, r.Detail)
			if r.Fix != "" {
				fmt.Fprintf(e.stdout, " -- fix: %s", r.Fix)
			}
			fmt.Fprintln(e.stdout)
		}
	}
	// The report is kept only in a data directory that exists: the
	// doctor does not create one for the server.
	if _, err := os.Stat(cfg.DataDir); err == nil {
		if err := doctor.Save(cfg.DataDir, rep); err != nil {
			fmt.Fprintf(e.stderr, "pail: %v\n", err)
		}
	}
	n := 0
	for _, r := range rep.Results {
		if r.Status == doctor.Fail {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", n, len(rep.Results))
	}
	return nil
}

// dkimKeys returns the keys of each domain from the data directory (or
// the cluster's database, opened once on first use and kept until the
// command ends), without making any (the doctor checks what exists).
func dkimKeys(ctx context.Context, cfg *config.Config) func(string) ([]dkim.Key, error) {
	var once sync.Once
	var st *dkim.Store
	var err error
	return func(domain string) ([]dkim.Key, error) {
		if cfg.Store == "" {
			if _, err := os.Stat(dkim.DirIn(cfg.DataDir)); errors.Is(err, fs.ErrNotExist) {
				return nil, nil
			}
		}
		once.Do(func() { st, _, err = dkim.OpenConfigured(ctx, cfg.DataDir, cfg.Store) })
		if err != nil {
			return nil, err
		}
		return st.Keys(domain)
	}
}

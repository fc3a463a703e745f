package main

import (
	"flag"
	"fmt"
)

func cmdCheck(e *env, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	repair := fs.Bool("repair", false, "first remove message and spool files that a crashed process left without an index row")
	pos, err := e.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "check"); err != nil {
		return err
	}
	_, st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	if *repair {
		removed, err := st.RemoveLeftovers(e.ctx)
		for _, p := range removed {
			fmt.Fprintln(e.stdout, "removed leftover:", p)
		}
		if err != nil {
			return err
		}
	}
	problems, err := st.Check(e.ctx)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(e.stdout, p)
	}
	_, q, err := e.openQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	queueProblems, err := q.Check(e.ctx)
	if err != nil {
		return err
	}
	for _, p := range queueProblems {
		fmt.Fprintln(e.stdout, p)
	}
	if n := len(problems) + len(queueProblems); n > 0 {
		return fmt.Errorf("store check: %d problems", n)
	}
	fmt.Fprintln(e.stdout, "store check: clean (mailboxes and outgoing queue)")
	return nil
}

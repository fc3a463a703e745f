package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSearchUIDsMatchesScan: on a generated mailbox, every SQL search
// returns exactly what a scan that evaluates each key on each message
// (the way imapd's candidate.match does today) returns.
func TestSearchUIDsMatchesScan(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		rng := rand.New(rand.NewPCG(17, 4))
		zones := []string{"+0000", "-0500", "+0930", "+1400", "-1200"}
		flagSet := []string{`\Seen`, `\Flagged`, `\Answered`, `\Deleted`, "$Work", "$label1"}
		base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		const n = 240
		for i := range n {
			date := ""
			if i%9 != 0 { // some messages have no Date field
				date = "Date: " + base.Add(time.Duration(rng.IntN(20*24))*time.Hour).Format("Mon, 2 Jan 2006 15:04:05 ") + zones[rng.IntN(len(zones))] + "\r\n"
			}
			body := fmt.Sprintf("From: a@b.test\r\nSubject: %d\r\n%s\r\n%s", i, date, strings.Repeat("x", rng.IntN(3000)))
			var flags []string
			for _, f := range flagSet {
				if rng.IntN(3) == 0 {
					flags = append(flags, f)
				}
			}
			internal := base.Add(time.Duration(rng.IntN(20*24*60)) * time.Minute)
			if _, err := s.DeliverBody(ctx, spool(t, s, body), []Delivery{{AccountID: a.ID, Flags: flags, Date: internal}}); err != nil {
				t.Fatal(err)
			}
		}
		inbox, _ := s.MailboxByName(ctx, a.ID, Inbox)
		msgs, _ := s.Messages(ctx, inbox.ID)
		var uids []uint32
		for _, m := range msgs {
			uids = append(uids, m.UID)
		}
		infos, _ := s.MessageInfos(ctx, inbox.ID, uids, false)
		// Flag changes spread the modification sequences.
		for i := 0; i < n; i += 7 {
			s.SetFlags(ctx, inbox.ID, uids[i:i+1], FlagsAdd, []string{"$later"}, 0)
		}
		msgs, _ = s.Messages(ctx, inbox.ID)
		day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
		matchDay := func(t, since, before time.Time) bool {
			d := day(t)
			return (since.IsZero() || !d.Before(since)) && (before.IsZero() || d.Before(before))
		}
		hasFlag := func(m Message, f string) bool {
			return slices.ContainsFunc(m.Flags, func(g string) bool { return strings.EqualFold(g, f) })
		}
		randDay := func() time.Time {
			if rng.IntN(2) == 0 {
				return time.Time{}
			}
			return base.AddDate(0, 0, rng.IntN(22)-1)
		}
		for range 400 {
			var q Query
			if rng.IntN(3) == 0 {
				for range 1 + rng.IntN(3) {
					lo := uint32(1 + rng.IntN(n))
					q.UIDs = append(q.UIDs, UIDRange{lo, lo + uint32(rng.IntN(40))})
				}
			}
			for range rng.IntN(2) {
				q.Flags = append(q.Flags, strings.ToLower(flagSet[rng.IntN(len(flagSet))]))
			}
			for range rng.IntN(2) {
				q.NotFlags = append(q.NotFlags, flagSet[rng.IntN(len(flagSet))])
			}
			q.Since, q.Before, q.SentSince, q.SentBefore = randDay(), randDay(), randDay(), randDay()
			if rng.IntN(3) == 0 {
				q.Larger = int64(rng.IntN(3000))
			}
			if rng.IntN(3) == 0 {
				q.Smaller = int64(rng.IntN(3000))
			}
			if rng.IntN(4) == 0 {
				q.ModSeq = uint64(rng.IntN(n + 40))
			}
			var want []uint32
			for _, m := range msgs {
				ok := len(q.UIDs) == 0
				for _, r := range q.UIDs {
					ok = ok || m.UID >= r.Lo && m.UID <= r.Hi
				}
				for _, f := range q.Flags {
					ok = ok && hasFlag(m, f)
				}
				for _, f := range q.NotFlags {
					ok = ok && !hasFlag(m, f)
				}
				ok = ok && matchDay(m.InternalDate, q.Since, q.Before)
				if !q.SentSince.IsZero() || !q.SentBefore.IsZero() {
					d := infos[m.UID].Date
					ok = ok && !d.IsZero() && matchDay(d, q.SentSince, q.SentBefore)
				}
				ok = ok && (q.Larger == 0 || m.Size > q.Larger) && (q.Smaller == 0 || m.Size < q.Smaller) && m.ModSeq >= q.ModSeq
				if ok {
					want = append(want, m.UID)
				}
			}
			got, err := s.SearchUIDs(ctx, inbox.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("query %+v:\n got %v\nwant %v", q, got, want)
			}
		}
	})
}

package store

import (
	"context"
	"errors"
	"testing"
)

// TestQuotaUsage: an account's usage is the sum of its messages' sizes in
// every mailbox and no other account's; its limit is the default until it
// has its own, and QuotaDefault gives the default back.
func TestQuotaUsage(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		b, _ := s.AddAccount(ctx, "jill@hill.com", "h", false)
		m1, m2 := "Subject: 1\r\n\r\none\r\n", "Subject: 2\r\n\r\nsecond message\r\n"
		if _, err := s.DeliverBody(ctx, spool(t, s, m1), []Delivery{{AccountID: a.ID}, {AccountID: b.ID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeliverBody(ctx, spool(t, s, m2), []Delivery{{AccountID: a.ID, Mailbox: "Archive"}}); err != nil {
			t.Fatal(err)
		}
		q, err := s.Quota(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(m1) + len(m2)); q.Used != want || q.Limit != 0 || q.Own {
			t.Errorf("bob: %+v, want used %d, no limit", q, want)
		}
		if _, limited, err := s.Room(ctx, a.ID); err != nil || limited {
			t.Errorf("room without a quota: limited %v, %v", limited, err)
		}
		s.SetDefaultQuota(1000)
		if room, limited, err := s.Room(ctx, b.ID); err != nil || !limited || room != 1000-int64(len(m1)) {
			t.Errorf("jill's room under the default: %d %v %v", room, limited, err)
		}
		if err := s.SetQuota(ctx, "bob@hill.com", 10); err != nil {
			t.Fatal(err)
		}
		if room, limited, _ := s.Room(ctx, a.ID); !limited || room != 10-int64(len(m1)+len(m2)) {
			t.Errorf("bob's room under his own quota: %d %v", room, limited)
		}
		if err := s.SetQuota(ctx, "bob@hill.com", 0); err != nil {
			t.Fatal(err)
		}
		if _, limited, _ := s.Room(ctx, a.ID); limited {
			t.Error("quota 0 still limits")
		}
		if err := s.SetQuota(ctx, "bob@hill.com", QuotaDefault); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = be.open(t)
		if q, _ := s.Quota(ctx, a.ID); q.Own || q.Limit != 0 {
			t.Errorf("after QuotaDefault and reopening (no default set): %+v", q)
		}
		if err := s.SetQuota(ctx, "nobody@hill.com", 5); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown account: %v", err)
		}
	})
}

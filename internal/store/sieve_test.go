package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSieveScripts(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, err := s.AddAccount(ctx, "bob@hill.com", "h", false)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.AddAccount(ctx, "amy@hill.com", "h", false)
		lim := SieveLimits{MaxScripts: 2, MaxBytes: 20}
		if err := s.PutSieveScript(ctx, a.ID, "one", []byte("keep;"), lim); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSieveScript(ctx, a.ID, "two", []byte("discard;"), lim); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSieveScript(ctx, a.ID, "three", []byte("keep;"), lim); !errors.Is(err, ErrSieveQuota) {
			t.Errorf("third script: %v, want quota", err)
		}
		if err := s.CheckSieveQuota(ctx, a.ID, "three", 5, lim); !errors.Is(err, ErrSieveQuota) {
			t.Errorf("havespace third: %v", err)
		}
		if err := s.CheckSieveQuota(ctx, a.ID, "two", 5, lim); err != nil {
			t.Errorf("havespace replacing: %v", err)
		}
		if err := s.PutSieveScript(ctx, a.ID, "two", []byte("123456789012345678901"), lim); !errors.Is(err, ErrSieveQuota) {
			t.Errorf("large script: %v", err)
		}
		if err := s.PutSieveScript(ctx, a.ID, "bad\x01", []byte("keep;"), lim); !errors.Is(err, ErrBadName) {
			t.Errorf("control character in name: %v", err)
		}
		if err := s.SetActiveSieveScript(ctx, a.ID, "none"); !errors.Is(err, ErrNotFound) {
			t.Errorf("activate missing: %v", err)
		}
		if err := s.SetActiveSieveScript(ctx, a.ID, "one"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetActiveSieveScript(ctx, a.ID, "two"); err != nil {
			t.Fatal(err)
		}
		act, err := s.ActiveSieveScripts(ctx, []int64{a.ID, b.ID})
		if err != nil || len(act) != 1 || act[a.ID].Name != "two" || string(act[a.ID].Text) != "discard;" {
			t.Fatalf("active: %v %+v", err, act)
		}
		if err := s.DeleteSieveScript(ctx, a.ID, "two"); !errors.Is(err, ErrSieveActive) {
			t.Errorf("delete active: %v", err)
		}
		if err := s.RenameSieveScript(ctx, a.ID, "two", "one"); !errors.Is(err, ErrExists) {
			t.Errorf("rename onto existing: %v", err)
		}
		if err := s.RenameSieveScript(ctx, a.ID, "two", "deux"); err != nil {
			t.Fatal(err)
		}
		list, err := s.SieveScripts(ctx, a.ID)
		if err != nil || len(list) != 2 || list[0].Name != "deux" || !list[0].Active || list[1].Active || list[1].Size != 5 {
			t.Errorf("list: %v %+v", err, list)
		}
		if err := s.DeleteSieveScript(ctx, a.ID, "one"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetActiveSieveScript(ctx, a.ID, ""); err != nil {
			t.Fatal(err)
		}
		if act, _ := s.ActiveSieveScripts(ctx, []int64{a.ID}); len(act) != 0 {
			t.Errorf("deactivated: %+v", act)
		}
		if _, err := s.SieveScript(ctx, b.ID, "deux"); !errors.Is(err, ErrNotFound) {
			t.Errorf("another account's script: %v", err)
		}
	})
}

func TestVacationAndDuplicates(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "bob@hill.com", "h", false)
		for i, want := range []bool{true, false} {
			if due, err := s.VacationDue(ctx, a.ID, "jill@x\x00h", time.Hour); err != nil || due != want {
				t.Errorf("vacation %d: %v %v", i, due, err)
			}
		}
		if due, _ := s.VacationDue(ctx, a.ID, "jill@x\x00h", time.Hour); due {
			t.Error("second answer within the period")
		}
		if due, _ := s.VacationDue(ctx, a.ID, "tom@x\x00h", -time.Second); !due {
			t.Error("other sender not due")
		}
		if due, _ := s.VacationDue(ctx, a.ID, "tom@x\x00h", time.Hour); !due {
			t.Error("expired record still suppresses")
		}
		if seen, _ := s.SieveDuplicateSeen(ctx, a.ID, "k"); seen {
			t.Error("unrecorded key seen")
		}
		if err := s.RecordSieveDuplicates(ctx, a.ID, []SieveDuplicateMark{{Key: "k", Expiry: time.Hour}}); err != nil {
			t.Fatal(err)
		}
		if seen, _ := s.SieveDuplicateSeen(ctx, a.ID, "k"); !seen {
			t.Error("recorded key not seen")
		}
	})
}

package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGreylistDurable: a saved triple is there after the store is closed
// and opened again, and expiry removes what is old or over the bound.
func TestGreylistDurable(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		if _, err := s.GreylistTriple(ctx, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown triple: %v", err)
		}
		t0 := time.Unix(1_700_000_000, 0)
		want := GreylistTriple{First: t0, Last: t0.Add(time.Hour), Passed: true}
		if err := s.SaveGreylistTriple(ctx, "192.0.2.0/24 a@far.test b@hill.test", want); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = be.open(t)
		got, err := s.GreylistTriple(ctx, "192.0.2.0/24 a@far.test b@hill.test")
		if err != nil || !got.First.Equal(want.First) || !got.Last.Equal(want.Last) || !got.Passed {
			t.Fatalf("after reopening: %+v %v, want %+v", got, err, want)
		}

		for i, tr := range []GreylistTriple{
			{First: t0, Last: t0, Passed: true},                                         // passed, old
			{First: t0, Last: t0.Add(48 * time.Hour), Passed: true},                     // passed, recent
			{First: t0, Last: t0},                                                       // pending, old
			{First: t0.Add(47 * time.Hour), Last: t0.Add(47 * time.Hour)},               // pending, recent
			{First: t0.Add(47*time.Hour + 1), Last: t0.Add(47*time.Hour + time.Second)}, // pending, newest
		} {
			if err := s.SaveGreylistTriple(ctx, string(rune('a'+i)), tr); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.ExpireGreylist(ctx, t0.Add(24*time.Hour), t0.Add(24*time.Hour), 2)
		if err != nil || n != 4 {
			t.Fatalf("expired %d (%v), want 4: two passed and one pending by age, the oldest pending over the bound", n, err)
		}
		for k, keep := range map[string]bool{"a": false, "b": true, "c": false, "d": false, "e": true, "192.0.2.0/24 a@far.test b@hill.test": false} {
			_, err := s.GreylistTriple(ctx, k)
			if keep != (err == nil) {
				t.Errorf("triple %q: %v, want kept %v", k, err, keep)
			}
		}
	})
}

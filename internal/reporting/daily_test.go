package reporting

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestNextRun(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 30, 0, 0, time.UTC)
	for range 100 {
		n := NextRun(now, DefaultJitter)
		lo := time.Date(2026, 12, 7, 0, 1, 0, 0, time.UTC)
		if n.Before(lo) || !n.Before(lo.Add(DefaultJitter)) {
			t.Fatalf("next run %v, want within %v of %v", n, DefaultJitter, lo)
		}
	}
}

// TestDailyRetries runs the job for the previous day after the start
// delay, and again after the retry delay while it asks, at most
// MaxRetries more times.
func TestDailyRetries(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var days []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	d := &Daily{StartDelay: time.Millisecond, RetryDelay: time.Millisecond, MaxRetries: 2,
		Now: func() time.Time { return now },
		Job: func(_ context.Context, day string) bool {
			mu.Lock()
			defer mu.Unlock()
			days = append(days, day)
			if len(days) == 3 {
				close(done)
			}
			return true
		}}
	go d.Run(ctx)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the job did not run three times")
	}
	time.Sleep(50 * time.Millisecond) // a fourth run would come now
	mu.Lock()
	defer mu.Unlock()
	if len(days) != 3 || days[0] != "2026-12-06" {
		t.Errorf("runs %v, want 3 for 2026-12-06", days)
	}
}

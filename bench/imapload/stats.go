package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// opStats collects the latencies and errors of one operation.
type opStats struct {
	lat    []time.Duration
	errors int
}

// stats maps operation names to their figures; one per client, merged at
// the end so clients never contend on a lock.
type stats map[string]*opStats

func (s stats) add(op string, d time.Duration, err error) {
	o := s[op]
	if o == nil {
		o = &opStats{}
		s[op] = o
	}
	if err != nil {
		o.errors++
		return
	}
	o.lat = append(o.lat, d)
}

func (s stats) merge(t stats) {
	for op, o := range t {
		m := s[op]
		if m == nil {
			m = &opStats{}
			s[op] = m
		}
		m.lat = append(m.lat, o.lat...)
		m.errors += o.errors
	}
}

// percentile returns the p-th percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// print writes the table: per operation and overall, and returns the
// total of successful operations and of errors.
func (s stats) print(w io.Writer, secs float64, order []string) (ops, errs int) {
	fmt.Fprintf(w, "%-11s %8s %9s %8s %8s %8s %7s\n", "op", "count", "ops/s", "p50 ms", "p99 ms", "max ms", "errors")
	var all []time.Duration
	for _, op := range order {
		o := s[op]
		if o == nil {
			continue
		}
		slices.Sort(o.lat)
		all = append(all, o.lat...)
		ops += len(o.lat)
		errs += o.errors
		var max time.Duration
		if len(o.lat) > 0 {
			max = o.lat[len(o.lat)-1]
		}
		fmt.Fprintf(w, "%-11s %8d %9.1f %8.2f %8.2f %8.1f %7d\n", op, len(o.lat), float64(len(o.lat))/secs,
			ms(percentile(o.lat, 50)), ms(percentile(o.lat, 99)), ms(max), o.errors)
	}
	slices.Sort(all)
	var max time.Duration
	if len(all) > 0 {
		max = all[len(all)-1]
	}
	fmt.Fprintf(w, "%-11s %8d %9.1f %8.2f %8.2f %8.1f %7d\n", "total", ops, float64(ops)/secs,
		ms(percentile(all, 50)), ms(percentile(all, 99)), ms(max), errs)
	return ops, errs
}

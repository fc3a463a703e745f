// Package metrics counts what pail does and writes the counts in the
// Prometheus text exposition format (version 0.0.4), without a client
// library: counters that packages increment, and gauges read from a
// function when scraped.
package metrics

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds the metrics of one pail instance.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

type family struct {
	name, help, kind string
	series           map[string]*series // by rendered label set
}

type series struct {
	labels string
	value  atomic.Uint64 // counter value, or float64 bits for gauges set directly
	fn     func() float64
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{families: map[string]*family{}} }

// Counter is a monotonically increasing count.
type Counter struct{ s *series }

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) {
	if c != nil && c.s != nil {
		c.s.value.Add(n)
	}
}

// Counter returns the counter name{labels}, creating it on first use.
// labels alternate names and values.
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	if r == nil {
		return &Counter{}
	}
	return &Counter{s: r.series(name, help, "counter", labels, nil)}
}

// GaugeFunc registers a gauge whose value fn returns at scrape time.
func (r *Registry) GaugeFunc(name, help string, fn func() float64, labels ...string) {
	if r != nil {
		r.series(name, help, "gauge", labels, fn)
	}
}

// CounterFunc registers a counter whose value fn returns at scrape time.
func (r *Registry) CounterFunc(name, help string, fn func() float64, labels ...string) {
	if r != nil {
		r.series(name, help, "counter", labels, fn)
	}
}

func (r *Registry) series(name, help, kind string, labels []string, fn func() float64) *series {
	key := renderLabels(labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.families[name]
	if f == nil {
		f = &family{name: name, help: help, kind: kind, series: map[string]*series{}}
		r.families[name] = f
	}
	s := f.series[key]
	if s == nil {
		s = &series{labels: key}
		f.series[key] = s
	}
	if fn != nil {
		s.fn = fn
	}
	return s
}

// renderLabels formats label pairs as {a="x",b="y"}, escaping values.
func renderLabels(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(kv[i+1])
		fmt.Fprintf(&b, "%s=\"%s\"", kv[i], v)
	}
	b.WriteByte('}')
	return b.String()
}

// WriteTo writes every metric in the text exposition format, sorted by
// name and labels.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	names := make([]string, 0, len(r.families))
	for n := range r.families {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		f := r.families[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			s := f.series[k]
			var v float64
			if s.fn != nil {
				v = s.fn()
			} else {
				v = float64(s.value.Load())
			}
			fmt.Fprintf(&b, "%s%s %g\n", f.name, s.labels, v)
		}
	}
	r.mu.Unlock()
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

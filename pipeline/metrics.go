package pipeline

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Counter is a monotonically increasing count, safe for concurrent use.
type Counter struct{ v atomic.Uint64 }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Load returns the current value.
func (c *Counter) Load() uint64 { return c.v.Load() }

// Gauge is a value that goes up and down, safe for concurrent use.
type Gauge struct{ v atomic.Uint64 }

// Set stores f.
func (g *Gauge) Set(f float64) { g.v.Store(math.Float64bits(f)) }

// Load returns the current value.
func (g *Gauge) Load() float64 { return math.Float64frombits(g.v.Load()) }

// Metrics is a small registry of named counters and gauges that renders the
// Prometheus text format. Series are created on first use and start at zero;
// packages create theirs at construction so that every reason of every drop
// counter is visible (as 0) before the first drop happens.
//
// A name carries its labels in Prometheus syntax:
//
//	m.Counter(`logship_dropped_records_total{reason="line_too_long"}`)
//
// The zero value is not usable; use NewMetrics. A nil *Metrics hands out
// unregistered series, so packages need no nil checks.
type Metrics struct {
	mu       sync.Mutex
	counters map[string]*Counter
	gauges   map[string]*Gauge
	funcs    map[string]func() float64
	help     map[string]string
}

// NewMetrics returns an empty registry.
func NewMetrics() *Metrics {
	return &Metrics{counters: map[string]*Counter{}, gauges: map[string]*Gauge{},
		funcs: map[string]func() float64{}, help: map[string]string{}}
}

// Counter returns the counter with this name and labels, creating it.
func (m *Metrics) Counter(name string) *Counter {
	if m == nil {
		return new(Counter)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.counters[name]
	if !ok {
		c = new(Counter)
		m.counters[name] = c
	}
	return c
}

// Gauge returns the gauge with this name and labels, creating it.
func (m *Metrics) Gauge(name string) *Gauge {
	if m == nil {
		return new(Gauge)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.gauges[name]
	if !ok {
		g = new(Gauge)
		m.gauges[name] = g
	}
	return g
}

// GaugeFunc registers a gauge whose value is computed by f at each
// scrape (and by Value). f must be cheap and safe for concurrent use.
func (m *Metrics) GaugeFunc(name string, f func() float64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.funcs[name] = f
	m.mu.Unlock()
}

// Help sets the HELP text of a metric family (the name without labels).
func (m *Metrics) Help(family, text string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.help[family] = text
	m.mu.Unlock()
}

// Value returns the current value of a counter or gauge by full name, and
// whether it exists. Tests use it.
func (m *Metrics) Value(name string) (float64, bool) {
	m.mu.Lock()
	c, okc := m.counters[name]
	g, okg := m.gauges[name]
	f, okf := m.funcs[name]
	m.mu.Unlock()
	switch {
	case okc:
		return float64(c.Load()), true
	case okg:
		return g.Load(), true
	case okf:
		return f(), true
	}
	return 0, false
}

// WritePrometheus writes every series in the Prometheus text exposition
// format, sorted by name.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	m.mu.Lock()
	type series struct {
		name, family, typ string
		value             float64
	}
	var all []series
	for n, c := range m.counters {
		all = append(all, series{n, family(n), "counter", float64(c.Load())})
	}
	for n, g := range m.gauges {
		all = append(all, series{n, family(n), "gauge", g.Load()})
	}
	funcs := make(map[string]func() float64, len(m.funcs))
	for n, f := range m.funcs {
		funcs[n] = f
	}
	help := make(map[string]string, len(m.help))
	for k, v := range m.help {
		help[k] = v
	}
	m.mu.Unlock()
	// Outside the lock: f may take other locks.
	for n, f := range funcs {
		all = append(all, series{n, family(n), "gauge", f()})
	}
	slices.SortFunc(all, func(a, b series) int { return strings.Compare(a.name, b.name) })
	last := ""
	for _, s := range all {
		if s.family != last {
			if h := help[s.family]; h != "" {
				if _, err := fmt.Fprintf(w, "# HELP %s %s\n", s.family, h); err != nil {
					return err
				}
			}
			if _, err := fmt.Fprintf(w, "# TYPE %s %s\n", s.family, s.typ); err != nil {
				return err
			}
			last = s.family
		}
		if _, err := fmt.Fprintf(w, "%s %v\n", s.name, s.value); err != nil {
			return err
		}
	}
	return nil
}

func family(name string) string {
	if i := strings.IndexByte(name, '{'); i >= 0 {
		return name[:i]
	}
	return name
}

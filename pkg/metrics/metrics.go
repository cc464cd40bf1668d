// Package metrics exposes what the server does to Prometheus at /metrics
// ([server] metrics = true): the status of the page, every service, node
// and replica, probe latencies, results, agent reports, notifications and
// their queues, live clients, page renders and store writes.
//
// One Metrics lives as long as the process: counters keep counting across
// reloads, and each app, when it runs, attaches the sources that are read
// at scrape time (Attach).
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/overvakt/overvakt/pkg/status"
)

const namespace = "overvakt"

// noData is the *_status gauges' value for a replica with no result
// since the start; the others are the status itself, which orders
// healthy (0) < sick (1) < dead (2).
const noData = -1

// Sources are what the running app lends to a scrape; any may be nil.
type Sources struct {
	Status      func() *status.Snapshot
	Queues      func() map[string]int // messages waiting, per channel
	LiveClients func() int
}

// Metrics is the process's collectors and the /metrics handler.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler
	src     atomic.Pointer[Sources]

	// results[mode][status], resolved once: the recorder counts under the
	// registry's lock.
	results       [status.ModeLocal + 1][status.Dead + 1]prometheus.Counter
	reports       map[bool]prometheus.Counter // accepted?
	notifications *prometheus.CounterVec
	renders       map[string]prometheus.Counter
	hits          map[string]prometheus.Counter
	storeWrite    prometheus.Histogram
	storeErrors   prometheus.Counter

	mu      sync.Mutex
	latency map[[2]string]*histogram // per {service, node}; guarded by mu
}

// New builds the collectors; version goes into overvakt_build_info.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), latency: map[[2]string]*histogram{},
		reports: map[bool]prometheus.Counter{}, renders: map[string]prometheus.Counter{}, hits: map[string]prometheus.Counter{}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help: "Always 1; the version label is the server's version.", ConstLabels: prometheus.Labels{"version": version}})
	info.Set(1)

	results := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "results_total",
		Help: "Results of probes (poll, script) and agent reports (push, local), by node mode and status."},
		[]string{"mode", "status"})
	for mode := range m.results {
		for st := range m.results[mode] {
			m.results[mode][st] = results.WithLabelValues(status.Mode(mode).String(), status.Status(st).String())
		}
	}
	reports := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "reports_total",
		Help: "Agent reports received on the reporter API: accepted, or refused (bad request, unknown node, wrong token scope, cap)."},
		[]string{"result"})
	m.reports[true], m.reports[false] = reports.WithLabelValues("accepted"), reports.WithLabelValues("refused")

	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "notifications_total",
		Help: "Notifications per channel by outcome: sent, failed (after its attempts), dropped (queue full or shutdown), discarded (a reminder of a state that had ended, or replaced by a newer one)."},
		[]string{"channel", "outcome"})
	renders := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "page_renders_total",
		Help: "Documents rendered: the page, the JSON report, /history and the Atom feed."}, []string{"doc"})
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "page_cache_hits_total",
		Help: "Requests for a document answered with one already rendered."}, []string{"doc"})
	for _, d := range []string{"page", "report", "history", "feed"} { // pkg/server's documents
		m.renders[d], m.hits[d] = renders.WithLabelValues(d), hits.WithLabelValues(d)
	}
	m.storeWrite = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "store_write_seconds",
		Help:    "Time to write one batch of results, status changes and agent records to the store.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}})
	m.storeErrors = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "store_write_errors_total",
		Help: "Batches the store failed to write (kept in memory and written again)."})

	m.reg.MustRegister(info, results, reports, m.notifications, renders, hits, m.storeWrite, m.storeErrors, (*state)(m))
	// A series that cannot be gathered is left out and logged, rather
	// than failing the whole scrape.
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Attach makes a scrape read src: the running app's status, queues and
// live clients. The app that runs last wins (a reload).
func (m *Metrics) Attach(src Sources) { m.src.Store(&src) }

// Detach lets go of the sources, when a reload turns metrics off.
func (m *Metrics) Detach() { m.src.Store(nil) }

// Channel makes the series of a channel's outcomes exist from the start,
// at 0, so that the first failure is an increase.
func (m *Metrics) Channel(name string, outcomes ...string) {
	for _, o := range outcomes {
		m.notifications.WithLabelValues(name, o)
	}
}

// Recorder returns a status.Recorder that counts every result and the
// probes' latencies, then passes everything on to next (may be nil).
func (m *Metrics) Recorder(next status.Recorder) status.Recorder {
	return &recorder{m: m, next: next}
}

// Report counts an agent report: accepted or refused.
func (m *Metrics) Report(accepted bool) { m.reports[accepted].Inc() }

// Notification counts what happened to a message on a channel (one of
// notify.Outcomes).
func (m *Metrics) Notification(channel, outcome string) {
	m.notifications.WithLabelValues(channel, outcome).Inc()
}

// Rendered counts a document built: "page", "report", "history" or "feed".
func (m *Metrics) Rendered(doc string) { m.renders[doc].Inc() }

// Hit counts a request for doc answered without rendering it.
func (m *Metrics) Hit(doc string) { m.hits[doc].Inc() }

// StoreWrite counts one batch written to the store, which took took.
func (m *Metrics) StoreWrite(took time.Duration, err error) {
	if err != nil {
		m.storeErrors.Inc()
		return
	}
	m.storeWrite.Observe(took.Seconds())
}

// recorder counts results; the registry calls it with its lock held, so
// it takes no other lock than the latencies'.
type recorder struct {
	m    *Metrics
	next status.Recorder
}

func (r *recorder) Result(service, node string, mode status.Mode, rep *status.Replica) {
	if int(mode) < len(r.m.results) && int(rep.Status) < len(r.m.results[mode]) {
		r.m.results[mode][rep.Status].Inc()
	}
	if (mode == status.ModePoll || mode == status.ModeScript) && rep.Latency > 0 {
		r.m.observe([2]string{service, node}, rep.Latency.Seconds())
	}
	if r.next != nil {
		r.next.Result(service, node, mode, rep)
	}
}

func (r *recorder) Changed(service, node string, st status.Status, at time.Time, reason string, resumed bool) {
	if r.next != nil {
		r.next.Changed(service, node, st, at, reason, resumed)
	}
}

// latencyBuckets are the upper bounds of the probe latency histogram, in
// seconds: from a loopback answer to a probe's longest timeout.
var latencyBuckets = [...]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// histogram is one node's probe latencies.
type histogram struct {
	counts [len(latencyBuckets)]uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

func (m *Metrics) observe(k [2]string, secs float64) {
	m.mu.Lock()
	h := m.latency[k]
	if h == nil {
		h = &histogram{}
		m.latency[k] = h
	}
	for i, b := range latencyBuckets {
		if secs <= b {
			h.counts[i]++
			break
		}
	}
	h.count++
	h.sum += secs
	m.mu.Unlock()
}

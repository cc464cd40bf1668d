package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/overvakt/overvakt/pkg/status"
)

// The gauges and histograms computed at scrape time from the running
// app's state: nothing is kept per replica between scrapes, and a node
// removed (a reload, a dynamic target deleted) leaves no stale series.
var (
	pageStatus = prometheus.NewDesc(namespace+"_page_status",
		"Status of the whole page: 0 healthy, 1 sick, 2 dead.", nil, nil)
	serviceStatus = prometheus.NewDesc(namespace+"_service_status",
		"Status of a service: 0 healthy, 1 sick, 2 dead.", []string{"service"}, nil)
	nodeStatus = prometheus.NewDesc(namespace+"_node_status",
		"Status of a node: 0 healthy, 1 sick, 2 dead.", []string{"service", "node"}, nil)
	replicaStatus = prometheus.NewDesc(namespace+"_replica_status",
		"Status of a replica: -1 no result since the server started, 0 healthy, 1 sick, 2 dead.", []string{"service", "node", "replica"}, nil)
	probeLatency = prometheus.NewDesc(namespace+"_probe_duration_seconds",
		"Latency of the probes of a poll or script node, since the server started.", []string{"service", "node"}, nil)
	queueDepth = prometheus.NewDesc(namespace+"_notification_queue_messages",
		"Messages waiting to be sent on a channel.", []string{"channel"}, nil)
	liveClients = prometheus.NewDesc(namespace+"_live_clients",
		"Browsers connected to the live feed (/live).", nil, nil)
)

// state is the collector of those; it is the Metrics under another type.
type state Metrics

func (s *state) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pageStatus, serviceStatus, nodeStatus, replicaStatus, probeLatency, queueDepth, liveClients} {
		ch <- d
	}
}

func (s *state) Collect(ch chan<- prometheus.Metric) {
	src := s.src.Load()
	if src == nil {
		return
	}
	if src.Status != nil {
		s.collectStatus(ch, src.Status())
	}
	if src.Queues != nil {
		for channel, n := range src.Queues() {
			ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(n), channel)
		}
	}
	if src.LiveClients != nil {
		ch <- prometheus.MustNewConstMetric(liveClients, prometheus.GaugeValue, float64(src.LiveClients()))
	}
}

func (s *state) collectStatus(ch chan<- prometheus.Metric, snap *status.Snapshot) {
	ch <- prometheus.MustNewConstMetric(pageStatus, prometheus.GaugeValue, float64(snap.Status))
	probed := map[[2]string]bool{}
	for _, svc := range snap.Services {
		ch <- prometheus.MustNewConstMetric(serviceStatus, prometheus.GaugeValue, float64(svc.Status), svc.ID)
		for _, n := range svc.Nodes.All() {
			ch <- prometheus.MustNewConstMetric(nodeStatus, prometheus.GaugeValue, float64(n.Status), svc.ID, n.ID)
			if n.Mode == status.ModePoll || n.Mode == status.ModeScript {
				probed[[2]string{svc.ID, n.ID}] = true
			}
			for _, r := range n.Replicas.All() {
				v := float64(r.Status)
				if r.Checked.IsZero() || r.Stale {
					v = noData // nothing since the start, at most news from before it
				}
				ch <- prometheus.MustNewConstMetric(replicaStatus, prometheus.GaugeValue, v, svc.ID, n.ID, r.ID)
			}
		}
	}
	// Copied under the lock and sent after it: the recorder, which takes
	// it, runs under the registry's lock.
	type node struct {
		k [2]string
		h histogram
	}
	s.mu.Lock()
	nodes := make([]node, 0, len(s.latency))
	for k, h := range s.latency {
		if !probed[k] {
			delete(s.latency, k) // the node is gone
			continue
		}
		nodes = append(nodes, node{k, *h})
	}
	s.mu.Unlock()
	for _, n := range nodes {
		buckets := make(map[float64]uint64, len(latencyBuckets))
		var cum uint64
		for i, b := range latencyBuckets {
			cum += n.h.counts[i]
			buckets[b] = cum
		}
		ch <- prometheus.MustNewConstHistogram(probeLatency, n.h.count, n.h.sum, buckets, n.k[0], n.k[1])
	}
}

package main

import (
	"math"
	"math/bits"
	"sort"
	"time"
)

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted; 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

// spread summarises a set of durations the way the report prints them.
type spread struct {
	N             int
	P50, P99, Max time.Duration
}

func summarize(ds []time.Duration) spread {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := spread{N: len(s)}
	if len(s) > 0 {
		out.P50, out.P99, out.Max = percentile(s, 50), percentile(s, 99), s[len(s)-1]
	}
	return out
}

// histogram counts nanosecond latencies in log-linear buckets (64 per power
// of two, about 1.6% resolution) so a load run of any length uses fixed
// memory and recording costs one increment.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    int64
}

const (
	histSubBits = 6
	histBuckets = (64-histSubBits)<<histSubBits + 2<<histSubBits
)

// histIndex maps v >= 0 to its bucket; values below 128 get a bucket each.
func histIndex(v int64) int {
	if v < 2<<histSubBits {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - (histSubBits + 1)
	return shift<<histSubBits + int(v>>shift)
}

// histValue is the midpoint of bucket i, the inverse of histIndex.
func histValue(i int) int64 {
	if i < 2<<histSubBits {
		return int64(i)
	}
	shift := i>>histSubBits - 1
	q := int64(i - shift<<histSubBits)
	lo := q << shift
	return lo + (int64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[histIndex(v)]++
	h.total++
	if v > h.max {
		h.max = v
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the nearest-rank p-th percentile as a bucket midpoint
// (never above the largest value recorded).
func (h *histogram) quantile(p float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(histValue(i), h.max))
		}
	}
	return time.Duration(h.max)
}

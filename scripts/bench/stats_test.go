package main

import (
	"sort"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"median of even takes lower", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(seq(1, 100)...), 99, 99 * time.Millisecond},
		{"p100 is max", ms(1, 9, 3), 100, 9 * time.Millisecond},
		{"tiny p is min", ms(4, 5, 6), 0.001, 4 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := summarize(tt.in)
			got := percentile(sortedCopy(tt.in), tt.p)
			if got != tt.want {
				t.Fatalf("percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
			}
			if s.N != len(tt.in) {
				t.Fatalf("summarize N = %d, want %d", s.N, len(tt.in))
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func sortedCopy(in []time.Duration) []time.Duration {
	out := append([]time.Duration(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func TestHistogramBucketsRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 129, 1000, 123456, 1 << 40, 59e9} {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d out of range", v, i)
		}
		got := histValue(i)
		if diff := abs64(got - v); float64(diff) > float64(v)/60+1 {
			t.Fatalf("histValue(histIndex(%d)) = %d, off by more than 1.7%%", v, got)
		}
	}
	for i := 1; i < 4000; i++ {
		if histIndex(int64(i)) < histIndex(int64(i-1)) {
			t.Fatalf("histIndex not monotonic at %d", i)
		}
	}
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name     string
		values   []time.Duration
		p        float64
		want     time.Duration
		tolerant float64
	}{
		{"empty", nil, 50, 0, 0},
		{"uniform median", usSeq(1, 10000), 50, 5000 * time.Microsecond, 0.02},
		{"uniform p99", usSeq(1, 10000), 99, 9900 * time.Microsecond, 0.02},
		{"outlier is max", append(usSeq(1, 99), time.Second), 100, time.Second, 0},
		{"p99 catches a 2% tail", append(usSeq(1, 98), time.Second, time.Second), 99, time.Second, 0.02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h, a, b histogram
			for i, v := range tt.values {
				h.record(v)
				if i%2 == 0 {
					a.record(v)
				} else {
					b.record(v)
				}
			}
			a.merge(&b)
			for _, hh := range []*histogram{&h, &a} {
				got := hh.quantile(tt.p)
				if d := float64(got - tt.want); d > tt.tolerant*float64(tt.want) || -d > tt.tolerant*float64(tt.want) {
					t.Fatalf("quantile(%v) = %v, want %v ±%.0f%%", tt.p, got, tt.want, tt.tolerant*100)
				}
			}
		})
	}
}

func usSeq(from, to int) []time.Duration {
	var out []time.Duration
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i)*time.Microsecond)
	}
	return out
}

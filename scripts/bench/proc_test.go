package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		cpu     time.Duration
		waited  time.Duration
		threads int
		wantErr bool
	}{
		{
			name:    "plain name",
			in:      "4242 (overvakt) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123 456789 1500 18446744073709551615\n",
			cpu:     3250 * time.Millisecond,
			waited:  0,
			threads: 9,
		},
		{
			name:    "name with spaces and parens",
			in:      "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 5 1 1 0\n",
			cpu:     30 * time.Millisecond,
			waited:  70 * time.Millisecond,
			threads: 1,
		},
		{name: "truncated", in: "7 (x) R 1 2 3", wantErr: true},
		{name: "no parens", in: "garbage", wantErr: true},
		{name: "not numbers", in: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u s 0 0 20 0 1 0\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cpu, waited, th, err := parseStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (cpu != tt.cpu || waited != tt.waited || th != tt.threads) {
				t.Fatalf("got cpu %v waited %v threads %d, want %v, %v and %d", cpu, waited, th, tt.cpu, tt.waited, tt.threads)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		rss, peak  int64
		anon, file int64
		wantErr    bool
	}{
		{
			name: "typical",
			in:   "Name:\tovervakt\nVmPeak:\t 1250000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nRssAnon:\t    6144 kB\nRssFile:\t    4096 kB\nThreads:\t9\n",
			rss:  10240 * 1024, peak: 20480 * 1024, anon: 6144 * 1024, file: 4096 * 1024,
		},
		{name: "zombie has no memory lines", in: "Name:\tx\nState:\tZ (zombie)\n", wantErr: true},
		{name: "bad unit", in: "VmHWM:\t1 MB\nVmRSS:\t1 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, peak, anon, file, err := parseStatus([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (rss != tt.rss || peak != tt.peak || anon != tt.anon || file != tt.file) {
				t.Fatalf("got rss %d peak %d anon %d file %d, want %d, %d, %d, %d", rss, peak, anon, file, tt.rss, tt.peak, tt.anon, tt.file)
			}
		})
	}
}

func TestReadProcOfSelf(t *testing.T) {
	// Burn a little CPU so the sample is not all zeros.
	deadline := time.Now().Add(30 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.PeakRSS < s.RSS || s.Threads < 1 {
		t.Fatalf("implausible sample of this test process: %+v", s)
	}
}

func TestCPUModelAndMemTotal(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n"
	if got := cpuModel([]byte(info)); got != "Intel(R) Xeon(R) Processor" {
		t.Fatalf("cpuModel = %q", got)
	}
	if got := cpuModel(nil); got != "unknown" {
		t.Fatalf("cpuModel(empty) = %q", got)
	}
	if got := memTotal([]byte("MemTotal:        8041528 kB\nMemFree: 1 kB\n")); got != "8041528 kB" {
		t.Fatalf("memTotal = %q", got)
	}
}

func TestParseSystemBusy(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr bool
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{"typical", "cpu  100 5 50 9000 20 1 4 0 7 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n", 1600 * time.Millisecond, false},
		{"old kernel, 7 fields", "cpu 100 0 100 500 0 0 0\n", 2 * time.Second, false},
		{"not the cpu line", "intr 1 2 3 4 5 6 7 8\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSystemBusy([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

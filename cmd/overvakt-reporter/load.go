package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// readLoad reads the host load from the proc file system mounted at proc:
// cpu is the 1-minute load average divided by the number of CPUs (1 means
// every CPU busy; it can go above), ram is the fraction of memory in use.
func readLoad(proc string) (cpu, ram float64, err error) {
	load1, err := loadAverage(filepath.Join(proc, "loadavg"))
	if err != nil {
		return 0, 0, err
	}
	cpus := countCPUs(filepath.Join(proc, "stat"))
	ram, err = memoryUsed(filepath.Join(proc, "meminfo"))
	if err != nil {
		return 0, 0, err
	}
	return load1 / float64(cpus), ram, nil
}

// loadAverage reads the first field of /proc/loadavg ("0.52 0.58 0.59 2/1234 5678").
func loadAverage(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read the load average: %w (is this Linux? use -proc to point at the proc file system)", err)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, fmt.Errorf("%s is empty", path)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s: unexpected load average %q", path, fields[0])
	}
	return v, nil
}

// countCPUs counts the "cpuN" lines of /proc/stat, so that the count
// matches the load average of the same proc file system (also for a host's
// /proc seen from a container). It falls back to the CPUs this process may
// use.
func countCPUs(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for line := range bytes.Lines(b) {
		if len(line) > 3 && bytes.HasPrefix(line, []byte("cpu")) && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}

// memoryUsed reads /proc/meminfo: (MemTotal - MemAvailable) / MemTotal.
// Kernels older than 3.14 lack MemAvailable; MemFree + Buffers + Cached
// stands in for it there.
func memoryUsed(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read memory use: %w (is this Linux? use -proc to point at the proc file system)", err)
	}
	defer f.Close()
	kb := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch key {
		case "MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached":
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				continue
			}
			if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
				kb[key] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	total := kb["MemTotal"]
	if total <= 0 {
		return 0, fmt.Errorf("%s has no MemTotal", path)
	}
	avail, ok := kb["MemAvailable"]
	if !ok {
		avail = kb["MemFree"] + kb["Buffers"] + kb["Cached"]
	}
	used := (total - avail) / total
	return min(max(used, 0), 1), nil
}

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procSample is what the harness reads about a process at one moment.
type procSample struct {
	At      time.Time
	CPU     time.Duration // utime + stime
	Waited  time.Duration // cutime + cstime: children already waited for
	RSS     int64         // VmRSS, bytes
	PeakRSS int64         // VmHWM, bytes
	AnonRSS int64         // RssAnon: heap, stacks (0 on old kernels)
	FileRSS int64         // RssFile: mapped binary and files
	Threads int
}

// readProc samples /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procSample, error) {
	s := procSample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read cpu time of process %d: %w", pid, err)
	}
	if s.CPU, s.Waited, s.Threads, err = parseStat(stat); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	if s.RSS, s.PeakRSS, s.AnonRSS, s.FileRSS, err = parseStatus(status); err != nil {
		return s, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return s, nil
}

// parseStat returns utime+stime, cutime+cstime and the thread count from a
// /proc/PID/stat line. The command name sits in parentheses and may hold
// spaces, so fields are counted from the last ')'.
func parseStat(b []byte) (cpu, waited time.Duration, threads int, err error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, 0, 0, fmt.Errorf("no ')' after the command name in %q", trim(b))
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15, cutime 16,
	// cstime 17, num_threads 20.
	if len(f) < 18 {
		return 0, 0, 0, fmt.Errorf("only %d fields after the command name", len(f))
	}
	var ticks [4]int64
	for k := range ticks {
		v, err := strconv.ParseInt(f[11+k], 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("field %d (%q) is not a number", 14+k, f[11+k])
		}
		ticks[k] = v
	}
	th, err := strconv.Atoi(f[17])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("num_threads %q is not a number", f[17])
	}
	return time.Duration(ticks[0]+ticks[1]) * time.Second / clockTicks,
		time.Duration(ticks[2]+ticks[3]) * time.Second / clockTicks, th, nil
}

// systemBusy returns the CPU time every core spent outside idle and iowait,
// from the "cpu" line of /proc/stat.
func systemBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseSystemBusy(b)
}

func parseSystemBusy(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q is not the cpu total", trim(line))
	}
	var busy int64
	for k, v := range f[1:] {
		if k == 3 || k == 4 || k >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: cpu field %d %q is not a number", k+1, v)
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// parseStatus returns VmRSS, VmHWM, RssAnon and RssFile in bytes from
// /proc/PID/status; the last two are 0 when the kernel does not split RSS.
func parseStatus(b []byte) (rss, peak, anon, file int64, err error) {
	var haveRSS, havePeak bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		var dst *int64
		switch {
		case !ok:
			continue
		case key == "VmRSS":
			dst, haveRSS = &rss, true
		case key == "VmHWM":
			dst, havePeak = &peak, true
		case key == "RssAnon":
			dst = &anon
		case key == "RssFile":
			dst = &file
		default:
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, 0, 0, fmt.Errorf("%s: want \"N kB\", got %q", key, strings.TrimSpace(val))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, 0, 0, fmt.Errorf("%s: %w", key, err)
		}
		*dst = kb * 1024
	}
	if !haveRSS || !havePeak {
		return 0, 0, 0, 0, fmt.Errorf("no VmRSS/VmHWM lines (is it a kernel thread or a zombie?)")
	}
	return rss, peak, anon, file, nil
}

func trim(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}

// machine describes the host for the report header.
type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	MemTotal  string `json:"mem_total"`
	LoadAvg   string `json:"load_avg"` // 1/5/15-minute load when the run started
}

// cpuModel returns the first "model name" of a /proc/cpuinfo text.
func cpuModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(val)
		}
	}
	return "unknown"
}

// memTotal returns the MemTotal line's value of /proc/meminfo.
func memTotal(meminfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// cpuWindow splits the machine's CPU time over a stretch of wall time into
// the server, this harness (with its waited-for children, e.g. wrk) and
// everything else, which tells whether the figures are trustworthy on a
// shared machine.
type cpuWindow struct {
	pid          int
	srv, self    procSample
	busy         time.Duration
	startErr     error
	selfPID      int
	haveSelfBase bool
}

func startCPUWindow(pid int) *cpuWindow {
	w := &cpuWindow{pid: pid, selfPID: os.Getpid()}
	var err error
	if w.srv, err = readProc(pid); err != nil {
		w.startErr = err
	}
	if w.self, err = readProc(w.selfPID); err == nil {
		w.haveSelfBase = true
	}
	if w.busy, err = systemBusy(); err != nil && w.startErr == nil {
		w.startErr = err
	}
	return w
}

// cpuShares is CPU time as a share of one core (100 = one core busy).
type cpuShares struct {
	Wall                   time.Duration
	ServerCPU              time.Duration
	Server, Harness, Other float64
	End                    procSample // the server at the end
}

func (w *cpuWindow) stop() (cpuShares, error) {
	if w.startErr != nil {
		return cpuShares{}, w.startErr
	}
	srv, err := readProc(w.pid)
	if err != nil {
		return cpuShares{}, err
	}
	self, err := readProc(w.selfPID)
	if err != nil || !w.haveSelfBase {
		return cpuShares{}, fmt.Errorf("read this process's CPU time: %v", err)
	}
	busy, err := systemBusy()
	if err != nil {
		return cpuShares{}, err
	}
	wall := srv.At.Sub(w.srv.At)
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / wall.Seconds() }
	s := cpuShares{Wall: wall, ServerCPU: srv.CPU - w.srv.CPU, End: srv}
	harness := self.CPU + self.Waited - w.self.CPU - w.self.Waited
	s.Server, s.Harness = pct(s.ServerCPU), pct(harness)
	s.Other = max(0, pct(busy-w.busy)-s.Server-s.Harness)
	return s, nil
}

func (s cpuShares) String() string {
	return fmt.Sprintf("CPU: server %.0f%%, harness %.0f%%, other processes %.0f%% of one core", s.Server, s.Harness, s.Other)
}

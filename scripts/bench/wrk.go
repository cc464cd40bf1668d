package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what the report takes from wrk's --latency output.
type wrkResult struct {
	Rate     float64
	P50, P99 time.Duration
	Non2xx   int64
	Errors   string // the "Socket errors" line, if any
}

// runWrk runs wrk against url when it is installed; ok is false when not.
func runWrk(ctx context.Context, url string, headers map[string]string, conns int, d time.Duration) (res wrkResult, ok bool, err error) {
	path, lookErr := exec.LookPath("wrk")
	if lookErr != nil {
		return res, false, nil
	}
	threads := 2
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(max(1, int(d.Seconds()))) + "s", "--latency"}
	for k, v := range headers {
		args = append(args, "-H", k+": "+v)
	}
	cmd := exec.CommandContext(ctx, path, append(args, url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return res, true, fmt.Errorf("wrk %s: %w\n%s", url, err, out)
	}
	res, err = parseWrk(string(out))
	return res, true, err
}

// parseWrk reads "Requests/sec:", the 50%/99% lines of the latency
// distribution and the error counters.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRate, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk output: Requests/sec %q: %w", f[1], err)
			}
			r.Rate, haveRate = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk output: %s latency: %w", f[0], err)
			}
			if f[0] == "50%" {
				r.P50, have50 = d, true
			} else {
				r.P99, have99 = d, true
			}
		case len(f) == 5 && f[0] == "Non-2xx":
			r.Non2xx, _ = strconv.ParseInt(f[4], 10, 64)
		case len(f) > 2 && f[0] == "Socket" && f[1] == "errors:":
			r.Errors = strings.Join(f[2:], " ")
		}
	}
	if !haveRate || !have50 || !have99 {
		return r, fmt.Errorf("wrk output lacks Requests/sec or the 50%%/99%% latency lines (run with --latency):\n%s", out)
	}
	return r, nil
}

// parseWrkDuration reads wrk's "812.00us", "1.23ms", "2.00s", "1.50m".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("%q is not a duration", s)
			}
			return time.Duration(math.Round(v * float64(u.unit))), nil
		}
	}
	return 0, fmt.Errorf("%q has no known unit (us, ms, s, m, h)", s)
}

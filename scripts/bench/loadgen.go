package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// loadSpec is one closed-loop load run: Conns workers, each on its own
// keep-alive connection, send the next request as soon as the last answer
// is read, until Duration is over.
type loadSpec struct {
	Addr     string   // host:port on loopback
	Requests [][]byte // full HTTP/1.1 requests, sent round-robin
	Conns    int
	Duration time.Duration
}

type loadResult struct {
	OK       int64         // 2xx answers
	Failed   int64         // other answers and broken connections
	Statuses map[int]int64 // answer code → count
	Elapsed  time.Duration
	Latency  histogram // of OK answers
	FirstErr error
}

func (r *loadResult) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// runLoad drives the server with a hand-rolled HTTP/1.1 client: it costs a
// fraction of net/http's client per request, which matters when the load
// generator shares two cores with the server it measures.
func runLoad(ctx context.Context, spec loadSpec) *loadResult {
	ctx, cancel := context.WithTimeout(ctx, spec.Duration)
	defer cancel()
	end, _ := ctx.Deadline()
	results := make([]*loadResult, spec.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range spec.Conns {
		results[w] = &loadResult{Statuses: map[int]int64{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			loadWorker(ctx, spec, w, end, results[w])
		}()
	}
	wg.Wait()
	total := &loadResult{Statuses: map[int]int64{}, Elapsed: time.Since(start)}
	for _, r := range results {
		total.OK += r.OK
		total.Failed += r.Failed
		for k, v := range r.Statuses {
			total.Statuses[k] += v
		}
		total.Latency.merge(&r.Latency)
		if total.FirstErr == nil {
			total.FirstErr = r.FirstErr
		}
	}
	return total
}

func loadWorker(ctx context.Context, spec loadSpec, w int, end time.Time, res *loadResult) {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	fail := func(err error) {
		res.Failed++
		if res.FirstErr == nil && ctx.Err() == nil {
			res.FirstErr = err
		}
		if conn != nil {
			_ = conn.Close()
			conn = nil
		}
	}
	d := net.Dialer{Timeout: time.Second}
	for k := w; ctx.Err() == nil; k++ {
		if conn == nil {
			c, err := d.DialContext(ctx, "tcp", spec.Addr)
			if err != nil {
				if ctx.Err() != nil || !time.Now().Before(end) {
					return // the run ended while dialing
				}
				fail(err)
				sleepCtx(ctx, 10*time.Millisecond) // the server is down or full: don't spin
				continue
			}
			// Bound every read and write by the end of the run.
			_ = c.SetDeadline(end.Add(time.Second))
			conn, br = c, bufio.NewReaderSize(c, 64<<10)
		}
		req := spec.Requests[k%len(spec.Requests)]
		t0 := time.Now()
		if _, err := conn.Write(req); err != nil {
			fail(err)
			continue
		}
		code, keepAlive, err := readResponse(br)
		if err != nil {
			if ctx.Err() != nil || !time.Now().Before(end) {
				return // cut off by the end of the run; not the server's fault
			}
			fail(err)
			continue
		}
		res.Statuses[code]++
		if code >= 200 && code < 300 {
			res.OK++
			res.Latency.record(time.Since(t0))
		} else {
			res.Failed++
		}
		if !keepAlive {
			_ = conn.Close()
			conn = nil
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// buildRequest renders a request the load generator sends as is.
func buildRequest(method, host, path string, headers map[string]string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: overvakt-bench\r\n", method, path, host)
	for k, v := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if body != nil || method == "POST" || method == "PUT" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one response (status line, headers, body by
// Content-Length or chunked) and says whether the connection stays open.
func readResponse(br *bufio.Reader) (code int, keepAlive bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	keepAlive = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		h, err := readLine(br)
		if err != nil {
			return 0, false, err
		}
		if len(h) == 0 {
			break
		}
		name, val, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("%w: header %q", errMalformed, h)
		}
		val = bytes.TrimSpace(val)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(val), 10, 64); err != nil || length < 0 {
				return 0, false, fmt.Errorf("%w: Content-Length %q", errMalformed, val)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(val, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(val, []byte("close")) {
				keepAlive = false
			} else if bytes.EqualFold(val, []byte("keep-alive")) {
				keepAlive = true
			}
		}
	}
	switch {
	case code == 204 || code == 304 || code < 200:
	case chunked:
		if err := discardChunked(br); err != nil {
			return 0, false, err
		}
	case length >= 0:
		if _, err := br.Discard(int(length)); err != nil {
			return 0, false, err
		}
	default: // body until close
		if _, err := io.Copy(io.Discard, br); err != nil {
			return 0, false, err
		}
		keepAlive = false
	}
	return code, keepAlive, nil
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			for { // trailers end with an empty line
				t, err := readLine(br)
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n)); err != nil {
			return err
		}
		if crlf, err := readLine(br); err != nil || len(crlf) != 0 {
			return fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
		}
	}
}

// readLine returns one line without its CRLF; the slice is valid until the
// next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errMalformed, br.Size())
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

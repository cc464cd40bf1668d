package api_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// benchReplicas is how many hosts report into the push node.
const benchReplicas = 100

func benchBody(i int) []byte {
	return fmt.Appendf(nil, `{"replica":"host-%d.example.net","interval":30,"load":{"cpu":0.%02d,"ram":0.61}}`, i%benchReplicas, i%100)
}

// benchApp is the app of the test config, built as the program builds it.
func benchApp(tb testing.TB) *app.App {
	a, err := app.New(context.Background(), app.Options{Config: testCfg(tb), Kinds: kinds.All(), Store: memory.New()})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// nopWriter is the cheapest ResponseWriter, so the benchmark measures the
// handler alone.
type nopWriter struct {
	h    http.Header
	code int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(code int)        { w.code = code }

// changingBody alternates each host's CPU load between 40% and 41%, so
// every report changes what the page shows and reaches the registry. Each
// worker has its own hosts, so that the alternation holds.
func changingBody(worker, i int) []byte {
	return fmt.Appendf(nil, `{"replica":"host-%d-%d.example.net","interval":30,"load":{"cpu":0.4%d,"ram":0.61}}`,
		worker, i%benchReplicas, i/benchReplicas%2)
}

// benchHandler sends authenticated push reports to h, rotating over the
// bodies, from GOMAXPROCS goroutines.
func benchHandler(b *testing.B, h http.Handler) {
	benchHandlerBodies(b, h, benchReplicas, func(worker, i int) []byte { return benchBody(worker + i) })
}

func benchHandlerBodies(b *testing.B, h http.Handler, n int, body func(worker, i int) []byte) {
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		worker := int(seq.Add(1))
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = body(worker, i)
		}
		rd := bytes.NewReader(nil)
		req, _ := http.NewRequest("POST", "http://status.example.com/reporter/hosts/push/", rd)
		req.Body = io.NopCloser(rd)
		// As behind the nginx sample: a loopback peer forwarding for the agent.
		req.RemoteAddr = "[::1]:43210"
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", worker%250+1))
		req.Header.Set("Authorization", basic(reporterToken))
		req.Header.Set("Content-Type", "application/json")
		w := &nopWriter{h: http.Header{}}
		i := 0
		for pb.Next() {
			body := bodies[i%len(bodies)]
			rd.Reset(body)
			req.ContentLength = int64(len(body))
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
}

// BenchmarkReportHandler: a report through the server's handler (route
// table, echo, the API, pkg/push), without the network.
func BenchmarkReportHandler(b *testing.B) {
	benchHandler(b, benchApp(b).Handler())
}

// BenchmarkReportHandlerChanging: as BenchmarkReportHandler, but every
// report changes a load the page shows, so each one builds a new snapshot.
func BenchmarkReportHandlerChanging(b *testing.B) {
	benchHandlerBodies(b, benchApp(b).Handler(), 2*benchReplicas, changingBody)
}

// BenchmarkReportLoopback is the end-to-end figure: the server's handler on
// a real HTTP server on loopback and a load generator in the same process
// sending authenticated push reports over keep-alive connections (one
// request in flight per connection, like real agents), GOMAXPROCS×8
// connections.
func BenchmarkReportLoopback(b *testing.B) {
	benchLoopback(b, benchApp(b).Handler())
}

func benchLoopback(b *testing.B, h http.Handler) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	addr := ln.Addr().String()

	var seq atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		reqs := make([][]byte, benchReplicas)
		for i := range reqs {
			body := benchBody(i + int(seq.Add(1)))
			reqs[i] = fmt.Appendf(nil, "POST /reporter/hosts/push/ HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"+
				"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, basic(reporterToken), len(body), body)
		}
		rd := bufio.NewReaderSize(conn, 4096)
		i := 0
		for pb.Next() {
			if _, err := conn.Write(reqs[i%benchReplicas]); err != nil {
				b.Error(err)
				return
			}
			if err := readEmptyOK(rd); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
}

// readEmptyOK reads one "200 OK" response without a body.
func readEmptyOK(rd *bufio.Reader) error {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("unexpected status line %q", line)
	}
	length := 0
	for {
		line, err = rd.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	_, err = rd.Discard(length)
	return err
}

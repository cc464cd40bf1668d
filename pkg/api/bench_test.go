package api

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

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/server"
	"github.com/overvakt/overvakt/pkg/status"
)

// benchReplicas is how many hosts report into the push node.
const benchReplicas = 100

func benchBody(i int) []byte {
	return fmt.Appendf(nil, `{"replica":"host-%d.example.net","interval":30,"load":{"cpu":0.%02d,"ram":0.61}}`, i%benchReplicas, i%100)
}

func benchAPI(b *testing.B) *API {
	cfg := testCfg(b)
	reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
	a, err := New(Options{Config: cfg, Registry: reg})
	if err != nil {
		b.Fatal(err)
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

// BenchmarkReportHandler: the API's own handler, no router in front.
func BenchmarkReportHandler(b *testing.B) {
	benchHandler(b, benchAPI(b))
}

// BenchmarkReportHandlerChanging: as BenchmarkReportHandler, but every
// report changes a load the page shows, so each one builds a new snapshot.
func BenchmarkReportHandlerChanging(b *testing.B) {
	benchHandlerBodies(b, benchAPI(b), 2*benchReplicas, changingBody)
}

// BenchmarkReportEcho: the same through echo, as the server mounts it.
func BenchmarkReportEcho(b *testing.B) {
	e := echo.New()
	benchAPI(b).Register(e)
	benchHandler(b, e)
}

// BenchmarkReportLoopback is the end-to-end figure: a real HTTP server on
// loopback and a load generator in the same process sending authenticated
// push reports over keep-alive connections (one request in flight per
// connection, like real agents), GOMAXPROCS×8 connections. "echo" mounts the
// API on a bare echo router; "server" mounts it in pkg/server as the
// program does (security headers, trailing-slash handling).
func BenchmarkReportLoopback(b *testing.B) {
	b.Run("echo", func(b *testing.B) {
		e := echo.New()
		benchAPI(b).Register(e)
		benchLoopback(b, e)
	})
	b.Run("server", func(b *testing.B) {
		a := benchAPI(b)
		srv, err := server.New(server.Options{Config: testCfg(b), Registry: a.reg, Announcements: a, API: a.Handler()})
		if err != nil {
			b.Fatal(err)
		}
		benchLoopback(b, srv.Handler())
	})
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

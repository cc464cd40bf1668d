package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discard is a ResponseWriter that keeps nothing, so benchmarks measure the
// handler alone.
type discard struct {
	h    http.Header
	code int
	n    int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

func benchServer(b *testing.B) *Server {
	return newTestServer(b, testConfig(), gridRegistry(100, 10, 2, time.Now()), nil)
}

// BenchmarkPage serves GET / from the render cache (100 services × 10
// nodes × 2 replicas), plain and gzipped, one goroutine and all of them.
func BenchmarkPage(b *testing.B) {
	for _, tc := range []struct {
		name, encoding string
	}{{"plain", ""}, {"gzip", "gzip, deflate, br"}} {
		b.Run(tc.name, func(b *testing.B) {
			s := benchServer(b)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.encoding != "" {
				req.Header.Set("Accept-Encoding", tc.encoding)
			}
			w := &discard{h: http.Header{}}
			s.ServeHTTP(w, req) // the first request renders the page
			w.n = 0
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				s.ServeHTTP(w, req)
			}
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
			b.ReportMetric(float64(w.n)/float64(b.N), "bytes/op")
		})
	}
	b.Run("parallel", func(b *testing.B) {
		s := benchServer(b)
		do(s, http.MethodGet, "/") // the first request renders the page
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			w := &discard{h: http.Header{}}
			for pb.Next() {
				clear(w.h)
				s.ServeHTTP(w, req)
			}
		})
	})
	b.Run("not modified", func(b *testing.B) {
		s := benchServer(b)
		etag := do(s, http.MethodGet, "/").Header().Get("ETag")
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("If-None-Match", etag)
		w := &discard{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			s.ServeHTTP(w, req)
		}
		if w.code != http.StatusNotModified {
			b.Fatalf("status %d", w.code)
		}
	})
}

// BenchmarkRender is one re-render as the server does it (100 services ×
// 10 nodes × 2 replicas): template, gzip copy and ETag.
func BenchmarkRender(b *testing.B) {
	s := benchServer(b)
	b.ReportAllocs()
	for b.Loop() {
		s.page.cur.Store(nil) // force a build
		d, err := s.page.rebuild(docKey{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(d.body)), "html-bytes")
		b.ReportMetric(float64(len(d.gz)), "gzip-bytes")
	}
}

// BenchmarkReport encodes /status/report for the same grid.
func BenchmarkReport(b *testing.B) {
	s := benchServer(b)
	b.ReportAllocs()
	for b.Loop() {
		s.report.cur.Store(nil)
		d, err := s.report.rebuild(docKey{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(d.body)), "json-bytes")
	}
}

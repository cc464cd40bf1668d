package api_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// TestReportAnswerShape: a recorded report answers a bare 200 with no body;
// errors answer JSON that browsers must not sniff.
func TestReportAnswerShape(t *testing.T) {
	s := startServer(t, nil)
	ok := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), pushBody(0.42, 0.61))
	if ok.code != 200 || ok.body != "" || ok.hdr.Get("Content-Length") != "0" || ok.hdr.Get("Content-Type") != "" {
		t.Fatalf("report answered %d %q with headers %v, want a bare 200 with Content-Length 0", ok.code, ok.body, ok.hdr)
	}
	bad := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), `{}`)
	if bad.code != 400 || bad.errorText() == "" || bad.hdr.Get("X-Content-Type-Options") != "nosniff" || bad.hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("bad report answered %d %q with headers %v, want a JSON error with nosniff and no-store", bad.code, bad.body, bad.hdr)
	}
}

// TestReportDoesNotAllocate: a report of a known replica that changes
// nothing shown costs no allocation, router and server included.
func TestReportDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	h := benchApp(t).Handler()
	body := []byte(pushBody(0.42, 0.61))
	rd := bytes.NewReader(nil)
	req, err := http.NewRequest("POST", "http://status.example.com/reporter/hosts/push/", rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(rd)
	req.RemoteAddr = "[::1]:43210" // a trusted proxy, as nginx on loopback
	req.Header.Set("X-Forwarded-For", "192.0.2.9")
	req.Header.Set("Authorization", basic(reporterToken))
	w := &nopWriter{h: http.Header{}}
	send := func() {
		rd.Reset(body)
		req.ContentLength = int64(len(body))
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			t.Fatalf("status %d", w.code)
		}
	}
	send() // the replica appears
	if n := testing.AllocsPerRun(1000, send); n != 0 {
		t.Fatalf("a repeated report allocates %v times, want 0", n)
	}
}

package httpsend

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/notify"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 14, 8, 58, 28, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"2", 2 * time.Second, true},
		{" 120 ", 120 * time.Second, true},
		{"0", 0, true},
		{"99999999999", 24 * time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second, true},
		{now.Add(90 * time.Second).Format(time.ANSIC), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := RetryAfter(tt.value, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

// Do against loopback servers: what is permanent, what is retried and
// after how long, and that the texts stay as they were.
func TestDoClassifies(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		permanent  bool
		after      time.Duration // 0: no Retry-After
		text       string
	}{
		{status: 200},
		{status: 204},
		{status: 400, permanent: true, text: "POST loopback: 400 Bad Request: bad"},
		{status: 401, permanent: true, text: "401 Unauthorized (check notify.x.token): bad"},
		{status: 403, permanent: true, text: "403 Forbidden (check notify.x.token)"},
		{status: 404, permanent: true},
		{status: 405, permanent: true},
		{status: 410, permanent: true},
		{status: 413, permanent: true},
		{status: 422, permanent: true},
		{status: 408},
		{status: 429},
		{status: 429, retryAfter: "2", after: 2 * time.Second},
		{status: 429, retryAfter: "not a number"},
		{status: 500},
		{status: 502},
		{status: 503, retryAfter: "7", after: 7 * time.Second},
		{status: 504},
		{status: 400, retryAfter: "7", permanent: true}, // a refusal stays one
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.retryAfter != "" {
				w.Header().Set("Retry-After", tt.retryAfter)
			}
			w.WriteHeader(tt.status)
			w.Write([]byte("bad"))
		}))
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/SECRET", nil)
		_, err := Do(srv.Client(), req, "loopback", "notify.x.token", "SECRET")
		srv.Close()
		if tt.status < 300 {
			if err != nil {
				t.Errorf("%d: %v, want success", tt.status, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%d: no error", tt.status)
			continue
		}
		if got := notify.IsPermanent(err); got != tt.permanent {
			t.Errorf("%d %q: IsPermanent = %v, want %v (%v)", tt.status, tt.retryAfter, got, tt.permanent, err)
		}
		after, _ := notify.RetryAfterOf(err)
		if after != tt.after {
			t.Errorf("%d %q: RetryAfterOf = %v, want %v", tt.status, tt.retryAfter, after, tt.after)
		}
		if !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%d: error %q lacks %q", tt.status, err, tt.text)
		}
	}
}

// Failures of the exchange itself are temporary.
func TestDoNetworkErrorsAreTemporary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)

	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer cut.Close()

	for _, tt := range []struct {
		name string
		url  string
		is   error
	}{
		{"connection refused", closed, nil},
		{"timeout", slow.URL, context.DeadlineExceeded},
		{"connection cut", cut.URL, nil},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, tt.url, nil)
		_, err := Do(http.DefaultClient, req, "loopback", "notify.x.token")
		cancel()
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if notify.IsPermanent(err) {
			t.Errorf("%s: %v is permanent, want temporary", tt.name, err)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: %v is not %v", tt.name, err, tt.is)
		}
	}
}

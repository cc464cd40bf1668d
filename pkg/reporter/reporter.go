// Package reporter is a client for the reporter side of the wire protocol
// (docs/protocol.md): push agents send their host load, local agents send the
// health of the replicas they probe, and either can flush a replica that goes
// away. It speaks to Övervakt and to other servers of the same protocol.
//
//	c, err := reporter.New(reporter.Options{URL: "https://status.example.com", Token: token})
//	err = c.ReportLoad(ctx, "web", "hosts", reporter.Load{Replica: "host-1", Interval: 30 * time.Second, CPU: 0.4, RAM: 0.6})
//
// Network errors, timeouts and 5xx answers are retried with backoff; a 4xx
// answer is returned at once as an *Error whose Fatal method says that
// retrying cannot help (wrong token, unknown node, …).
package reporter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// Defaults for Options.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultRetries    = 2
	DefaultRetryDelay = time.Second
)

// Options configure a Client. URL and Token are required.
type Options struct {
	// URL is the status page's address, e.g. https://status.example.com; a
	// path prefix (https://example.com/status) is kept.
	URL string
	// Token is the server's reporter_token.
	Token string
	// HTTPClient sends the requests; nil means a client of its own. Its
	// redirect policy is replaced: a redirect is reported as an error, since
	// following it would turn a POST into a GET.
	HTTPClient *http.Client
	// Timeout bounds one attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries is how many times a failed attempt is repeated after a network
	// error, a timeout or a 5xx answer; 0 means DefaultRetries, negative none.
	Retries int
	// RetryDelay is the wait before the first retry, doubled before each
	// next one; 0 means DefaultRetryDelay.
	RetryDelay time.Duration
	// UserAgent is sent with every request when set.
	UserAgent string
}

// Client sends reports. It is safe for concurrent use.
type Client struct {
	base       string // scheme://host/prefix, without a trailing slash
	auth       string // Authorization header value
	hc         *http.Client
	timeout    time.Duration
	retries    int
	retryDelay time.Duration
	userAgent  string
}

// New checks the options and returns a client.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(opts.URL))
	switch {
	case opts.URL == "":
		return nil, errors.New("reporter: no server URL: give the status page's address, e.g. https://status.example.com")
	case err != nil:
		return nil, fmt.Errorf("reporter: server URL %q: %w", opts.URL, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("reporter: server URL %q: want an http:// or https:// address, e.g. https://status.example.com", opts.URL)
	case u.Host == "":
		return nil, fmt.Errorf("reporter: server URL %q has no host; want e.g. https://status.example.com", opts.URL)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("reporter: server URL %q: remove the query or fragment; give only the page's address", opts.URL)
	case u.User != nil:
		return nil, fmt.Errorf("reporter: server URL %q: remove the user info; the token is passed on its own", opts.URL)
	case opts.Token == "":
		return nil, errors.New("reporter: no token: give the server's reporter_token")
	}
	c := &Client{
		base:       strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		auth:       "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+opts.Token)),
		timeout:    opts.Timeout,
		retries:    opts.Retries,
		retryDelay: opts.RetryDelay,
		userAgent:  opts.UserAgent,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch {
	case c.retries == 0:
		c.retries = DefaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.retryDelay <= 0 {
		c.retryDelay = DefaultRetryDelay
	}
	hc := http.Client{}
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &hc
	return c, nil
}

// Load is a push report: the host's load as fractions (cpu: 1-minute load
// average per CPU; ram: used / total memory).
type Load struct {
	Replica  string
	Interval time.Duration // how often the agent reports
	CPU, RAM float64
}

// Health is a local report: the health of one replica the agent probed.
type Health struct {
	Replica  string
	Interval time.Duration // how often the agent reports
	Health   status.Status
}

type loadJSON struct {
	CPU float64 `json:"cpu"`
	RAM float64 `json:"ram"`
}

type reportJSON struct {
	Replica  string      `json:"replica"`
	Interval json.Number `json:"interval"`
	Load     *loadJSON   `json:"load,omitempty"`
	Health   string      `json:"health,omitempty"`
}

// ReportLoad sends a push report for one replica of a push node.
func (c *Client) ReportLoad(ctx context.Context, service, node string, l Load) error {
	if err := checkReplica(l.Replica, l.Interval); err != nil {
		return err
	}
	for _, v := range []float64{l.CPU, l.RAM} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("reporter: load %v is not a finite number >= 0", v)
		}
	}
	body := reportJSON{Replica: l.Replica, Interval: seconds(l.Interval), Load: &loadJSON{CPU: l.CPU, RAM: l.RAM}}
	return c.send(ctx, http.MethodPost, c.path("reporter", service, node), body)
}

// ReportHealth sends a local report for one replica of a local node.
func (c *Client) ReportHealth(ctx context.Context, service, node string, h Health) error {
	if err := checkReplica(h.Replica, h.Interval); err != nil {
		return err
	}
	if h.Health > status.Dead {
		return fmt.Errorf("reporter: unknown health %v", h.Health)
	}
	body := reportJSON{Replica: h.Replica, Interval: seconds(h.Interval), Health: h.Health.String()}
	return c.send(ctx, http.MethodPost, c.path("reporter", service, node), body)
}

// Flush removes a replica of a push or local node, e.g. when its host is
// shut down for good.
func (c *Client) Flush(ctx context.Context, service, node, replica string) error {
	if replica == "" {
		return errors.New("reporter: flush: empty replica name")
	}
	return c.send(ctx, http.MethodDelete, c.path("reporter", service, node, replica), nil)
}

// The report intervals a server accepts (config.MinInterval and
// config.MaxInterval; this package does not load configs).
const (
	MinInterval = time.Second
	MaxInterval = 7 * 24 * time.Hour
)

func checkReplica(name string, interval time.Duration) error {
	if name == "" {
		return errors.New("reporter: empty replica name")
	}
	if interval < MinInterval || interval > MaxInterval {
		return fmt.Errorf("reporter: interval %v: the server takes %v to %v", interval, MinInterval, MaxInterval)
	}
	return nil
}

// seconds writes an interval in seconds: an integer when whole (what every
// server of the protocol reads), else a decimal.
func seconds(d time.Duration) json.Number {
	if d%time.Second == 0 {
		return json.Number(strconv.FormatInt(int64(d/time.Second), 10))
	}
	return json.Number(strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
}

// path builds base/seg/…/ with each segment escaped; the trailing slash is
// what the protocol's reference clients send.
func (c *Client) path(seg ...string) string {
	var b strings.Builder
	b.WriteString(c.base)
	for _, s := range seg {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	b.WriteByte('/')
	return b.String()
}

// send runs one request with retries.
func (c *Client) send(ctx context.Context, method, target string, body any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("reporter: encode report: %w", err)
		}
	}
	delay := c.retryDelay
	for attempt := 0; ; attempt++ {
		err := c.attempt(ctx, method, target, payload)
		if err == nil || !retryable(err) || attempt >= c.retries || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay *= 2
	}
}

func (c *Client) attempt(ctx context.Context, method, target string, payload []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("reporter: %s %s: %w", method, target, err)
	}
	req.Header.Set("Authorization", c.auth)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// The *url.Error would repeat the method and URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("reporter: %s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return newError(method, target, resp, msg)
}

// retryable: network trouble and server-side failures may pass; a refusal
// of the request itself will not.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return !e.Fatal()
	}
	return !errors.Is(err, context.Canceled)
}

// Error is an answer other than 200 from the server.
type Error struct {
	Method, URL string
	StatusCode  int
	// Message is the server's {"error"} text, or the start of the body
	// when the answer is not from this protocol.
	Message string
	// Location is where a redirect pointed.
	Location string
	// protocol tells whether the body was a protocol error ({"error":…}),
	// i.e. whether the URL reached a server of this protocol at all.
	protocol bool
}

func newError(method, target string, resp *http.Response, body []byte) *Error {
	e := &Error{Method: method, URL: target, StatusCode: resp.StatusCode, Location: resp.Header.Get("Location")}
	var j struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &j) == nil && j.Error != "" {
		e.Message, e.protocol = j.Error, true
	} else {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	return e
}

func (e *Error) Error() string {
	s := fmt.Sprintf("reporter: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	if hint := e.hint(); hint != "" {
		s += " (" + hint + ")"
	}
	return s
}

// hint says what to check when the answer does not explain itself (a
// redirect, or a server that sent no protocol error).
func (e *Error) hint() string {
	switch {
	case e.StatusCode >= 300 && e.StatusCode < 400:
		return "the server redirects to " + strconv.Quote(e.Location) + "; use the final address as the server URL"
	case e.protocol:
		return ""
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden:
		return "check the token: it must be the server's reporter_token"
	case e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusMethodNotAllowed:
		return "is the server URL the status page's address, and are the service and node ids right?"
	}
	return ""
}

// Fatal reports whether repeating the request cannot help: the setup is
// wrong (URL, token, service or node ids, node mode, body). Timeouts, rate
// limits and server errors are not fatal.
func (e *Error) Fatal() bool {
	switch {
	case e.StatusCode == http.StatusRequestTimeout, e.StatusCode == http.StatusTooManyRequests:
		return false
	case e.StatusCode >= 500:
		return false
	}
	return true
}

// IsFatal reports whether err is an answer of the server that retrying
// cannot fix.
func IsFatal(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Fatal()
}

// Package httpsend is the request plumbing the HTTP notification channels
// share: one client, answers checked, quoted and classed for retries,
// secrets masked.
package httpsend

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
)

const (
	defaultTimeout = 10 * time.Second // when deps.HTTP is nil
	maxAnswer      = 64 << 10         // bytes of a provider's answer we read
	maxQuoted      = 300              // bytes of it we quote in an error
)

// Client is deps.HTTP, or a client with a timeout when there is none.
func Client(deps notify.Deps) *http.Client {
	if deps.HTTP != nil {
		return deps.HTTP
	}
	return &http.Client{Timeout: defaultTimeout}
}

// Do sends req and returns the answer's body when the status is 2xx; any
// other answer is an error quoting the status and the start of the body,
// marked with its retry class (see Classify). where names the endpoint
// without secrets, authKey is the config key to check on 401/403, and
// secrets are masked in every text returned. Errors of the exchange itself
// (refused connection, timeout, cut answer) are left temporary.
func Do(client *http.Client, req *http.Request, where, authKey string, secrets ...string) ([]byte, error) {
	req.Header.Set("User-Agent", "overvakt")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the URL, which may hold a secret
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, where, maskErr(err, secrets))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", req.Method, where, maskErr(err, secrets))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			hint = " (check " + authKey + ")"
		}
		err := fmt.Errorf("%s %s: %s%s: %s", req.Method, where, resp.Status, hint, Quote(body, secrets))
		return body, Classify(err, resp)
	}
	return body, nil
}

// maxRetryAfterHeader bounds the Retry-After we read; the dispatcher cuts
// waits much shorter anyway, this only keeps the arithmetic sane.
const maxRetryAfterHeader = 24 * time.Hour

// Classify marks err, the error made of resp (an answer outside 2xx), with
// its retry class:
//   - 408 Request Timeout, 429 Too Many Requests and every 5xx are
//     temporary, with the wait of a Retry-After header when there is one;
//   - every other 4xx is permanent: the request itself is wrong (400, 413,
//     422…), the credentials are refused (401, 403) or the URL, room or
//     chat does not exist (404, 410), and sending it again changes nothing;
//   - anything else (an unfollowed 3xx, say) stays temporary.
func Classify(err error, resp *http.Response) error {
	code := resp.StatusCode
	switch {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		if d, ok := RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return notify.RetryAfter(err, d)
		}
		return err
	case code >= 400 && code < 500:
		return notify.Permanent(err, permanentWhy(resp))
	default:
		return err
	}
}

// permanentWhy says in a few words what a permanent answer means.
func permanentWhy(resp *http.Response) string {
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return resp.Status + ": the credentials were refused"
	case http.StatusNotFound, http.StatusGone:
		return resp.Status + ": wrong URL, room or chat"
	case http.StatusRequestEntityTooLarge:
		return resp.Status + ": the message is too large for the provider"
	default:
		return resp.Status + ": the provider refused the request"
	}
}

// RetryAfter parses a Retry-After header value, delay-seconds ("120") or an
// HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"), into the wait from now. ok
// is false when there is no usable value; a date in the past is no wait.
func RetryAfter(value string, now time.Time) (d time.Duration, ok bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(value, 10, 64); err == nil {
		return time.Duration(min(secs, uint64(maxRetryAfterHeader/time.Second))) * time.Second, true
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return min(max(at.Sub(now), 0), maxRetryAfterHeader), true
}

// Quote is the start of a provider's answer on one line, secrets masked.
func Quote(body []byte, secrets []string) string {
	s := Mask(strings.Join(strings.Fields(string(body)), " "), secrets)
	if s == "" {
		return "(empty answer)"
	}
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// maskErr keeps err as it is (so errors.Is still sees timeouts and
// cancellation) unless its text holds a secret.
func maskErr(err error, secrets []string) error {
	text := err.Error()
	if masked := Mask(text, secrets); masked != text {
		return errors.New(masked)
	}
	return err
}

// Mask replaces every secret in s with ***.
func Mask(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// URL parses a URL of a channel's table. The table's Check has already
// refused what is no absolute http(s) URL, so an error here means a table
// built without it; key names the config key, and the value is not quoted
// because it may hold a secret.
func URL(key, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !config.IsHTTPURL(raw) {
		return nil, errors.New(key + ": not an absolute http:// or https:// URL")
	}
	return u, nil
}

// APIBase is the provider base URL a channel talks to: raw (its api_url),
// or def when raw is empty, without query, fragment or trailing slash. key
// names the config key in the error.
func APIBase(key, raw, def string) (string, error) {
	base := raw
	if base == "" {
		base = def
	}
	u, err := URL(key, base)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

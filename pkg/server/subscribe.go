package server

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/page"
)

// maxForm bounds the body of the subscribe form.
const maxForm = 8 << 10

// Answers of the subscription pages. The one to a subscription is the
// same for a new address and a known one.
var (
	msgCheckInbox = page.Message{Title: "Check your inbox",
		Text: "If the address is not subscribed yet, a mail with a link to confirm is on its way. Nothing else is sent until you confirm. No mail after a few minutes? Look in the spam folder."}
	msgMailOff = page.Message{Title: "No subscriptions by e-mail here",
		Text: "This page does not send e-mail. Follow its Atom feed instead: /feed.atom."}
	msgConfirm      = page.Message{Title: "Confirm your subscription", Text: "One more click, and you will be told of incidents and maintenance by e-mail."}
	msgConfirmed    = page.Message{Title: "Subscribed", Text: "You will be told of incidents and maintenance by e-mail. Every mail has a link to unsubscribe."}
	msgConfirmGone  = page.Message{Title: "This link does not work", Text: "It is unknown, used already, or older than 48 hours. Subscribe again on the status page."}
	msgUnsubscribe  = page.Message{Title: "Unsubscribe", Text: "No more mail about incidents and maintenance?"}
	msgUnsubscribed = page.Message{Title: "Unsubscribed", Text: "You will get no more mail from this status page."}
	msgUnsubGone    = page.Message{Title: "Not subscribed", Text: "This address is unsubscribed already, or the link is not one of ours."}
)

// handleSubscribe takes the subscribe form: email, and component (none
// or more). It answers a page, 200 however the address stood; 400 for an
// address or component that is wrong, sending nothing; 429 when the
// client asked too often; 404 when e-mail subscriptions are off.
func (s *Server) handleSubscribe(c echo.Context) error {
	if !s.mailOn() {
		return s.message(c, http.StatusNotFound, msgMailOff)
	}
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return s.message(c, http.StatusBadRequest, page.Message{Title: "Not a form", Text: "Send the subscribe form of the status page."})
	}
	var components []string
	for _, v := range r.PostForm["component"] {
		if v != "" {
			components = append(components, v)
		}
	}
	err := s.subs.Subscribe(r.Context(), r.PostForm.Get("email"), components, clientOf(r))
	var invalid *notice.Invalid
	switch {
	case err == nil:
		return s.message(c, http.StatusOK, msgCheckInbox)
	case errors.As(err, &invalid):
		return s.message(c, http.StatusBadRequest, page.Message{Title: "Please check the form", Text: upper(invalid.Msg) + "."})
	case errors.Is(err, notice.ErrRateLimited):
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(3600/notice.PerIP)))
		return s.message(c, http.StatusTooManyRequests, page.Message{Title: "Too many requests", Text: "Too many subscriptions were asked from your address; try again in a while."})
	case errors.Is(err, notice.ErrNoMail):
		return s.message(c, http.StatusNotFound, msgMailOff)
	}
	s.log.Error("subscription failed", "err", err)
	return s.message(c, http.StatusServiceUnavailable, page.Message{Title: "Not now", Text: "The confirmation mail could not be sent; try again later."})
}

// handleConfirmPage answers the link of a confirmation mail with a
// button: a mail scanner following the link confirms nothing.
func (s *Server) handleConfirmPage(c echo.Context) error {
	tok := c.QueryParam("token")
	if s.subs == nil || !s.subs.CanConfirm(tok) {
		return s.message(c, http.StatusNotFound, msgConfirmGone)
	}
	m := msgConfirm
	m.Action = &page.Action{URL: "/subscribe/confirm?token=" + url.QueryEscape(tok), Label: "Confirm"}
	return s.message(c, http.StatusOK, m)
}

// handleConfirm confirms a subscription.
func (s *Server) handleConfirm(c echo.Context) error {
	if s.subs == nil {
		return s.message(c, http.StatusNotFound, msgConfirmGone)
	}
	ok, err := s.subs.Confirm(c.Request().Context(), c.QueryParam("token"))
	switch {
	case err != nil:
		s.log.Error("confirming a subscription failed", "err", err)
		return s.message(c, http.StatusServiceUnavailable, page.Message{Title: "Not now", Text: "Try again in a moment."})
	case !ok:
		return s.message(c, http.StatusNotFound, msgConfirmGone)
	}
	return s.message(c, http.StatusOK, msgConfirmed)
}

// handleUnsubscribePage answers the unsubscribe link of a mail with a
// button (mail software fetches links, RFC 8058 says, and a fetch must
// not unsubscribe).
func (s *Server) handleUnsubscribePage(c echo.Context) error {
	tok := c.QueryParam("token")
	if s.subs == nil || !s.subs.CanUnsubscribe(tok) {
		return s.message(c, http.StatusNotFound, msgUnsubGone)
	}
	m := msgUnsubscribe
	m.Action = &page.Action{URL: "/unsubscribe?token=" + url.QueryEscape(tok), Label: "Unsubscribe"}
	return s.message(c, http.StatusOK, m)
}

// handleUnsubscribe unsubscribes: the button of the page above, or a mail
// client's one-click POST (List-Unsubscribe-Post, RFC 8058).
func (s *Server) handleUnsubscribe(c echo.Context) error {
	if s.subs == nil {
		return s.message(c, http.StatusNotFound, msgUnsubGone)
	}
	ok, err := s.subs.Unsubscribe(c.Request().Context(), c.QueryParam("token"))
	switch {
	case err != nil:
		s.log.Error("unsubscribing failed", "err", err)
		return s.message(c, http.StatusServiceUnavailable, page.Message{Title: "Not now", Text: "Try again in a moment."})
	case !ok:
		return s.message(c, http.StatusNotFound, msgUnsubGone)
	}
	return s.message(c, http.StatusOK, msgUnsubscribed)
}

// message answers a small page, never cached.
func (s *Server) message(c echo.Context, code int, m page.Message) error {
	var buf bytes.Buffer
	if err := s.renderer.RenderMessage(&buf, m); err != nil {
		return err
	}
	h := c.Response().Header()
	h["Content-Type"] = hdrHTML
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	c.Response().WriteHeader(code)
	if c.Request().Method != http.MethodHead {
		_, _ = c.Response().Write(buf.Bytes())
	}
	return nil
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// clientOf is who asks, for the rate limit of subscriptions: the peer's
// address; when the peer is a proxy on this machine, the address it says
// it forwards (X-Real-IP, else the last of X-Forwarded-For). IPv6
// addresses count by their /64, which one host usually has whole.
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if addr.IsLoopback() {
		fwd := strings.TrimSpace(r.Header.Get("X-Real-IP"))
		if fwd == "" {
			list := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
			fwd = strings.TrimSpace(list[len(list)-1])
		}
		if a, err := netip.ParseAddr(fwd); err == nil {
			addr = a
		}
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

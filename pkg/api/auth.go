package api

import (
	"encoding/base64"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
)

// auth checks HTTP Basic credentials (and, where bearer is set, bearer
// tokens) against the tokens of one API. The username is ignored; the
// password is the token.
type auth struct {
	api       string // "reporter", "manager" or "metrics", for logs
	creds     []credential
	challenge string // WWW-Authenticate value
	key       string // config key of the main token, for messages
	missing   string // the answer to a request without credentials
	bearer    bool   // bearer tokens are accepted too
}

// credential is one accepted token.
type credential struct {
	token string
	// header is what almost every client sends, `Basic base64(":" + token)`;
	// matching it whole spares decoding on the hot path.
	header string
	scope  *config.TokenScope // nil: every service and node
}

func newCredential(token string, scope *config.TokenScope) credential {
	return credential{token: token, header: "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+token)), scope: scope}
}

func newAuth(api, token, realm, key string) auth {
	return auth{
		api:       api,
		creds:     []credential{newCredential(token, nil)},
		challenge: `Basic realm="` + realm + `", charset="UTF-8"`,
		key:       key,
		missing:   "missing credentials: send HTTP Basic auth with the token as password (Authorization: Basic base64(\":\" + token))",
	}
}

// caller is who sent an authenticated request.
type caller struct {
	ip    netip.Addr         // invalid until someone needs it (whoIs)
	scope *config.TokenScope // nil: the API's main token
}

// String says who the caller is in logs, history and messages: "a reporter
// at 192.0.2.7" or "reporter token "hosts" at 192.0.2.7".
func (c caller) String() string {
	who := "the reporter token"
	if c.scope != nil {
		who = "reporter token " + strconv.Quote(c.scope.Name)
	}
	if c.ip.IsValid() {
		who += " from " + c.ip.String()
	}
	return who
}

// check reports who sent r when it carries one of au's tokens. When it
// does not, it has already answered: 429 with Retry-After while the
// client's address is blocked for failing too often, 401 with a challenge
// when the credentials are missing or unreadable, 403 when they are
// readable but wrong. 401 and 403 count as failures of the address.
//
// The client's address is looked up only while some address is blocked
// or after a failure: reports, the hot path, never pay for it otherwise.
func (a *API) check(w http.ResponseWriter, r *http.Request, au *auth) (caller, bool) {
	var c caller
	if a.throttle.Blocking() {
		if ip, ok := a.clients.Of(r); ok {
			if wait := a.throttle.Wait(ip); wait > 0 {
				secs := int64((wait + time.Second - 1) / time.Second)
				w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
				writeError(w, http.StatusTooManyRequests, "too many failed authentications from "+ip.String()+
					": try again in "+strconv.FormatInt(secs, 10)+" s, with the right token (see docs/operations.md)")
				return c, false
			}
		}
	}
	h := r.Header["Authorization"]
	if len(h) == 0 || h[0] == "" {
		w.Header().Set("WWW-Authenticate", au.challenge)
		writeError(w, http.StatusUnauthorized, au.missing)
		a.failed(r, au)
		return c, false
	}
	for i := range au.creds {
		if constantTimeEqual(h[0], au.creds[i].header) {
			c.scope = au.creds[i].scope
			return c, true
		}
	}
	password, ok := basicPassword(h[0])
	if !ok && au.bearer && len(h[0]) > len("Bearer ") && strings.EqualFold(h[0][:len("Bearer ")], "Bearer ") {
		ok, password = true, h[0][len("Bearer "):] // the scheme is case-insensitive (RFC 9110)
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", au.challenge)
		writeError(w, http.StatusUnauthorized, "malformed Authorization header: want \"Basic \" followed by base64 of \"user:token\" (the user may be empty)")
		a.failed(r, au)
		return c, false
	}
	for i := range au.creds {
		if constantTimeEqual(password, au.creds[i].token) {
			c.scope = au.creds[i].scope
			return c, true
		}
	}
	writeError(w, http.StatusForbidden, "wrong token: the password must be "+au.key)
	a.failed(r, au)
	return c, false
}

// whoIs fills in the caller's address, for logs and notes.
func (a *API) whoIs(r *http.Request, c caller) caller {
	c.ip, _ = a.clients.Of(r)
	return c
}

// failed counts a failed authentication of r's client, and logs when it
// blocks the address. The line's form is a contract: fail2ban filters
// match it (docs/operations.md), so keep its message and the client key
// as they are.
func (a *API) failed(r *http.Request, au *auth) {
	ip, ok := a.clients.Of(r)
	if !ok {
		return
	}
	block, failures := a.throttle.Fail(ip)
	if block > 0 {
		a.log.Warn("too many failed authentications", "client", ip.String(), "api", au.api,
			"failures", failures, "blocked_for", block.String())
	}
}

// basicPassword extracts the password of a Basic Authorization header value.
func basicPassword(h string) (string, bool) {
	const scheme = "basic "
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(scheme):]))
	if err != nil {
		return "", false
	}
	_, password, ok := strings.Cut(string(raw), ":")
	return password, ok
}

// constantTimeEqual compares got with want in time that depends only on
// len(want), so a wrong guess tells nothing about how close it was — not
// even its length.
func constantTimeEqual(got, want string) bool {
	var diff byte
	if len(got) != len(want) {
		got, diff = want, 1
	}
	for i := 0; i < len(want); i++ {
		diff |= got[i] ^ want[i]
	}
	return diff == 0
}

// manager checks the manager token, answering when it is not there.
func (a *API) manager(w http.ResponseWriter, r *http.Request) bool {
	_, ok := a.check(w, r, &a.managerAuth)
	return ok
}

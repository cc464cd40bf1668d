package api

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// auth checks HTTP Basic credentials against one token. The username is
// ignored; the password is the token.
type auth struct {
	token string
	// header is what almost every client sends, `Basic base64(":" + token)`;
	// matching it whole spares decoding on the hot path.
	header    string
	challenge string // WWW-Authenticate value
	key       string // config key of the token, for messages
}

func newAuth(token, realm, key string) auth {
	return auth{
		token:     token,
		header:    "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+token)),
		challenge: `Basic realm="` + realm + `", charset="UTF-8"`,
		key:       key,
	}
}

// check reports whether r carries the token. When it does not, it has
// already answered: 401 with a challenge when the credentials are missing or
// unreadable, 403 when they are readable but wrong.
func (au *auth) check(w http.ResponseWriter, r *http.Request) bool {
	if au.token == "" {
		writeError(w, http.StatusForbidden, "this API is disabled: "+au.key+" is not set in the server config")
		return false
	}
	h := r.Header["Authorization"]
	if len(h) == 0 || h[0] == "" {
		w.Header().Set("WWW-Authenticate", au.challenge)
		writeError(w, http.StatusUnauthorized, "missing credentials: send HTTP Basic auth with the token as password (Authorization: Basic base64(\":\" + token))")
		return false
	}
	if constantTimeEqual(h[0], au.header) {
		return true
	}
	password, ok := basicPassword(h[0])
	if !ok {
		w.Header().Set("WWW-Authenticate", au.challenge)
		writeError(w, http.StatusUnauthorized, "malformed Authorization header: want \"Basic \" followed by base64 of \"user:token\" (the user may be empty)")
		return false
	}
	if !constantTimeEqual(password, au.token) {
		writeError(w, http.StatusForbidden, "wrong token: the password must be "+au.key)
		return false
	}
	return true
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

package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// goInternals are bits of Go that must not reach a client's error message.
var goInternals = []string{"Go struct", "Go value", "json:", "map[", "[]string", "*string", "float64", "int64", "reflect", "unmarshal"}

// FuzzManagerJSON sends any body to the manager's write routes, as the
// server's handler takes them (and to the incident and maintenance
// handlers, which decode the same way): no panic, no 5xx, and every refusal
// is {"error":"…"} in words, without Go's type names.
func FuzzManagerJSON(f *testing.F) {
	a := benchApp(f)
	h := a.Handler()
	e := echo.New()
	type route struct {
		method, path string
		direct       func(echo.Context) error // a handler not in the route table yet
	}
	routes := []route{
		{"POST", "/manager/announcement", nil},
		{"PUT", "/manager/prober/alerts/ignored", nil},
		{"POST", "/manager/incident", a.API.OpenIncident},
		{"POST", "/manager/maintenance", a.API.ScheduleMaintenance},
	}
	for _, s := range []string{
		`{"title":"Database maintenance","text":"Tonight 22:00-23:00 UTC."}`,
		`{"reminders_seconds":3600}`, `{"reminders_seconds":null}`, `{"reminders_seconds":"x"}`,
		`{"title":1}`, `[]`, `null`, `"x"`, `{"title":"t","text":"x"} {}`, `{"title":"a\u0000b","text":"\ud800"}`,
		`{"title":"Outage","impact":"major","affected":["web"],"status":"investigating","text":"x"}`,
		`{"title":"w","affected":["web:core"],"start":"2026-12-05T22:00:00Z","end":"2026-12-05T23:00:00Z"}`,
		`{"start":1,"end":{}}`, `{"affected":"web"}`, `{"reminders_seconds":1e400}`,
	} {
		for i := range routes {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := routes[int(which)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Authorization", basic(managerToken))
		rec := httptest.NewRecorder()
		if rt.direct != nil {
			if err := rt.direct(e.NewContext(req, rec)); err != nil {
				t.Fatalf("%s %s returned %v", rt.method, rt.path, err)
			}
		} else {
			h.ServeHTTP(rec, req)
		}
		switch rec.Code {
		case http.StatusOK:
			return
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		var out struct {
			Error string `json:"error"`
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") ||
			json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.Error == "" {
			t.Fatalf("%s %s %q: %d answered %q, want {\"error\":…}", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		for _, w := range goInternals {
			if strings.Contains(out.Error, w) {
				t.Fatalf("%s %s %q: error %q shows Go's %q", rt.method, rt.path, body, out.Error, w)
			}
		}
	})
}

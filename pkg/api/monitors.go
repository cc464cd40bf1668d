package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/dynamic"
)

// The dynamic targets ([dynamic]; pkg/dynamic), with SpO₂'s semantics:
// a target is named by its URL in ?url=, percent-encoded.

// targets answers 404 when [dynamic] is off and returns the owner
// otherwise.
func (a *API) targets(c echo.Context) *dynamic.Targets {
	if a.dynamic == nil {
		writeError(c.Response(), http.StatusNotFound, "dynamic targets are off: the config has no [dynamic] table")
	}
	return a.dynamic
}

// targetURL is the ?url= of a request; it answers 400 when there is none.
func targetURL(c echo.Context) (string, bool) {
	q := c.Request().URL.Query()
	if len(q["url"]) != 1 || q.Get("url") == "" {
		writeError(c.Response(), http.StatusBadRequest, "want one url=… query parameter: the target's URL, percent-encoded")
		return "", false
	}
	return q.Get("url"), true
}

// PutMonitor handles PUT /manager/monitor?url=… with any JSON value as the
// body (the target's data): it adds the target, or replaces its data and
// keeps its probe and history. It answers the stored record, 201 when the
// target is new.
func (a *API) PutMonitor(c echo.Context) error {
	w, r := c.Response(), c.Request()
	if !a.manager(w, r) {
		return nil
	}
	t := a.targets(c)
	if t == nil {
		return nil
	}
	raw, ok := targetURL(c)
	if !ok {
		return nil
	}
	if r.ContentLength > dynamic.MaxData {
		writeError(w, http.StatusRequestEntityTooLarge, "data is larger than "+strconv.Itoa(dynamic.MaxData)+" bytes")
		return nil
	}
	bp, err := a.readBody(r)
	if err != nil {
		bodyError(w, err)
		return nil
	}
	defer a.putBuf(bp)
	if len(*bp) > dynamic.MaxData {
		writeError(w, http.StatusRequestEntityTooLarge, "data is larger than "+strconv.Itoa(dynamic.MaxData)+" bytes")
		return nil
	}
	m, created, err := t.Put(r.Context(), raw, append([]byte(nil), *bp...))
	var inv *dynamic.Invalid
	switch {
	case errors.As(err, &inv):
		writeError(w, http.StatusBadRequest, inv.Why)
		return nil
	case errors.Is(err, dynamic.ErrFull):
		writeError(w, http.StatusConflict, "max_targets ("+strconv.Itoa(t.Max())+") reached: delete a target or raise [dynamic] max_targets")
		return nil
	case err != nil:
		a.log.Error("dynamic: storing a target failed", "url", raw, "err", err)
		writeError(w, http.StatusInternalServerError, "the target could not be stored: "+err.Error())
		return nil
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSONCode(w, code, m)
	return nil
}

// GetMonitor handles GET /manager/monitor?url=…: the target with its
// status, last reason, latency and data.
func (a *API) GetMonitor(c echo.Context) error {
	if !a.manager(c.Response(), c.Request()) {
		return nil
	}
	t := a.targets(c)
	if t == nil {
		return nil
	}
	raw, ok := targetURL(c)
	if !ok {
		return nil
	}
	m, ok := t.Get(raw)
	if !ok {
		writeError(c.Response(), http.StatusNotFound, "no target with that url")
		return nil
	}
	writeJSON(c.Response(), m)
	return nil
}

// DeleteMonitor handles DELETE /manager/monitor?url=…: it stops probing
// the target and answers it as it was, data included.
func (a *API) DeleteMonitor(c echo.Context) error {
	w, r := c.Response(), c.Request()
	if !a.manager(w, r) {
		return nil
	}
	t := a.targets(c)
	if t == nil {
		return nil
	}
	raw, ok := targetURL(c)
	if !ok {
		return nil
	}
	m, ok, err := t.Delete(r.Context(), raw)
	switch {
	case err != nil:
		a.log.Error("dynamic: removing a target failed", "url", raw, "err", err)
		writeError(w, http.StatusInternalServerError, "the target could not be removed: "+err.Error())
	case !ok:
		writeError(w, http.StatusNotFound, "no target with that url")
	default:
		writeJSON(w, m)
	}
	return nil
}

// ListMonitors handles GET /manager/monitors: every target, with its data,
// in the order they were added.
func (a *API) ListMonitors(c echo.Context) error {
	if !a.manager(c.Response(), c.Request()) {
		return nil
	}
	t := a.targets(c)
	if t == nil {
		return nil
	}
	writeJSON(c.Response(), t.List())
	return nil
}

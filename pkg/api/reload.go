package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/config"
)

// Reload handles POST /manager/reload: the config file is read again and,
// when it is valid, applied. A config with errors changes nothing: the
// answer is 422 with every error, file:line: key: message, as
// check-config prints them.
func (a *API) Reload(c echo.Context) error {
	w, r := c.Response(), c.Request()
	if !a.manager(w, r) {
		return nil
	}
	if a.reload == nil {
		writeError(w, http.StatusNotFound, "reloading is not available in this process; run overvakt")
		return nil
	}
	err := a.reload(r.Context())
	var errs config.Errors
	switch {
	case err == nil:
		writeJSON(w, struct {
			Reloaded bool `json:"reloaded"`
		}{true})
	case errors.As(err, &errs):
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = e.Error()
		}
		writeJSONCode(w, http.StatusUnprocessableEntity, struct {
			Error  string   `json:"error"`
			Errors []string `json:"errors"`
		}{"the config has " + strconv.Itoa(len(errs)) + " error(s); the running config is kept", lines})
	default:
		writeError(w, http.StatusUnprocessableEntity, "not reloaded, the running config is kept: "+err.Error())
	}
	return nil
}

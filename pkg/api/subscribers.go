package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/notice"
)

// webhookJSON is a webhook subscriber on the wire. Subscribers by e-mail
// are never listed: their addresses are not to be found out.
type webhookJSON struct {
	ID         string    `json:"id"`
	URL        string    `json:"url"`
	Components []string  `json:"components"` // empty: everything
	Created    time.Time `json:"created"`
}

func toWebhookJSON(s notice.Subscriber) webhookJSON {
	return webhookJSON{ID: s.ID, URL: s.URL, Components: componentNames(s.Components), Created: s.Created.UTC().Truncate(time.Second)}
}

// ListWebhooks handles GET /manager/subscribers: the webhook subscribers.
func (a *API) ListWebhooks(c echo.Context) error {
	if !a.manager(c.Response(), c.Request()) {
		return nil
	}
	hooks := a.subs.Webhooks()
	out := make([]webhookJSON, len(hooks))
	for i, h := range hooks {
		out[i] = toWebhookJSON(h)
	}
	writeJSON(c.Response(), out)
	return nil
}

// AddWebhook handles POST /manager/subscribers {"url","components"}: the
// URL is told of every incident update and maintenance event of the
// components (none: everything).
func (a *API) AddWebhook(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	var in struct {
		URL        string   `json:"url"`
		Components []string `json:"components"`
	}
	if !a.decodeJSON(w, c.Request(), &in) {
		return nil
	}
	sub, err := a.subs.AddWebhook(c.Request().Context(), in.URL, in.Components)
	var invalid *notice.Invalid
	switch {
	case errors.As(err, &invalid):
		writeError(w, http.StatusBadRequest, invalid.Msg)
	case errors.Is(err, notice.ErrListFull):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		a.storeError(w, "add webhook subscriber", err)
	default:
		writeJSON(w, toWebhookJSON(sub))
	}
	return nil
}

// RemoveWebhook handles DELETE /manager/subscriber/{id}.
func (a *API) RemoveWebhook(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	id, ok := param(c, "id")
	if !ok {
		notFound(c)
		return nil
	}
	found, err := a.subs.RemoveWebhook(c.Request().Context(), id)
	switch {
	case err != nil:
		a.storeError(w, "remove webhook subscriber", err)
	case !found:
		writeError(w, http.StatusNotFound, "no webhook subscriber has id "+strconv.Quote(id)+" (list them with GET /manager/subscribers)")
	default:
		writeOK(w)
	}
	return nil
}

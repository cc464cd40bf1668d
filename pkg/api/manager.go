package api

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/status"
)

// MaxSilence is the longest reminder silence accepted.
const MaxSilence = 365 * 24 * time.Hour

// announcementJSON is an announcement on the wire. The protocol's list has
// id and title; text and date are extras for tools that show more.
type announcementJSON struct {
	ID    string    `json:"id"`
	Title string    `json:"title"`
	Text  string    `json:"text"`
	Date  time.Time `json:"date"`
}

// ListAnnouncements handles GET /manager/announcements.
func (a *API) ListAnnouncements(c echo.Context) error {
	if !a.manager(c.Response(), c.Request()) {
		return nil
	}
	list, _ := a.board.Announcements()
	out := make([]announcementJSON, len(list))
	for i, an := range list {
		// Whole seconds, as docs/protocol.md shows: "2026-03-14T21:05:11Z".
		out[i] = announcementJSON{ID: an.ID, Title: an.Title, Text: an.Text, Date: an.Published.UTC().Truncate(time.Second)}
	}
	writeJSON(c.Response(), out)
	return nil
}

// PublishAnnouncement handles POST /manager/announcement.
func (a *API) PublishAnnouncement(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	var in struct {
		Title *string `json:"title"`
		Text  *string `json:"text"`
	}
	if !a.decodeJSON(w, c.Request(), &in) {
		return nil
	}
	var title, text string
	if in.Title != nil {
		title = *in.Title
	}
	if in.Text != nil {
		text = *in.Text
	}
	an, err := a.board.Publish(c.Request().Context(), title, text)
	var invalid *notice.Invalid
	switch {
	case errors.As(err, &invalid):
		writeError(w, http.StatusBadRequest, invalid.Msg)
	case errors.Is(err, notice.ErrFull):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		a.storeError(w, "publish announcement", err)
	default:
		writeJSON(w, struct {
			ID string `json:"id"`
		}{an.ID})
	}
	return nil
}

// RetractAnnouncement handles DELETE /manager/announcement/{id}.
func (a *API) RetractAnnouncement(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	id, ok := param(c, "id")
	if !ok {
		notFound(c)
		return nil
	}
	found, err := a.board.Retract(c.Request().Context(), id)
	switch {
	case err != nil:
		a.storeError(w, "retract announcement", err)
	case !found:
		writeError(w, http.StatusNotFound, "no announcement with id "+strconv.Quote(id)+" (list them with GET /manager/announcements)")
	default:
		writeOK(w)
	}
	return nil
}

type alertJSON struct {
	Probe   string `json:"probe"`
	Node    string `json:"node"`
	Replica string `json:"replica"`
}

// Alerts handles GET /manager/prober/alerts: every replica that is not
// healthy. "probe" is the service id, as in the protocol.
func (a *API) Alerts(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	out := struct {
		Dead []alertJSON `json:"dead"`
		Sick []alertJSON `json:"sick"`
	}{Dead: []alertJSON{}, Sick: []alertJSON{}}
	for _, svc := range a.reg.Snapshot().Services {
		for _, n := range svc.Nodes.All() {
			for _, rp := range n.Replicas.All() {
				al := alertJSON{Probe: svc.ID, Node: n.ID, Replica: rp.ID}
				switch rp.Status {
				case status.Dead:
					out.Dead = append(out.Dead, al)
				case status.Sick:
					out.Sick = append(out.Sick, al)
				}
			}
		}
	}
	writeJSON(w, out)
	return nil
}

// ignoredJSON is the body of the reminder silence routes; null means none.
type ignoredJSON struct {
	RemindersSeconds *int64 `json:"reminders_seconds"`
}

// Silence handles GET /manager/prober/alerts/ignored: the seconds left in
// the silence (rounded up), or null.
func (a *API) Silence(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	var out ignoredJSON
	if left := a.silence.Remaining(a.now()); left > 0 {
		secs := int64((left + time.Second - 1) / time.Second)
		out.RemindersSeconds = &secs
	}
	writeJSON(w, out)
	return nil
}

// SetSilence handles PUT /manager/prober/alerts/ignored: silence reminders
// for N seconds, or end the silence with null or 0.
func (a *API) SetSilence(c echo.Context) error {
	w, r := c.Response(), c.Request()
	if !a.manager(w, r) {
		return nil
	}
	var in map[string]json.RawMessage
	if !a.decodeJSON(w, r, &in) {
		return nil
	}
	raw, ok := in["reminders_seconds"]
	if !ok {
		writeError(w, http.StatusBadRequest, `missing "reminders_seconds": send {"reminders_seconds":3600} to silence reminders for an hour, or null to end the silence`)
		return nil
	}
	var secs *float64
	if err := json.Unmarshal(raw, &secs); err != nil {
		writeError(w, http.StatusBadRequest, `"reminders_seconds" must be a number of seconds or null`)
		return nil
	}
	if secs == nil || *secs == 0 {
		if err := a.silence.Clear(r.Context()); err != nil {
			a.storeError(w, "end the silence", err)
			return nil
		}
		a.log.Info("reminders unsilenced")
		writeOK(w)
		return nil
	}
	if *secs < 0 || *secs > MaxSilence.Seconds() || math.IsNaN(*secs) {
		writeError(w, http.StatusBadRequest, `"reminders_seconds" must be between 0 and `+strconv.Itoa(int(MaxSilence.Seconds())))
		return nil
	}
	until := a.now().Add(time.Duration(*secs * float64(time.Second)))
	if err := a.silence.Set(r.Context(), until); err != nil {
		a.storeError(w, "silence reminders", err)
		return nil
	}
	a.log.Info("reminders silenced", "until", until)
	writeOK(w)
	return nil
}

// decodeJSON reads a manager request body into v, answering 413 or 400 on
// failure.
func (a *API) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	bp, err := a.readBody(r)
	if err != nil {
		bodyError(w, err)
		return false
	}
	defer a.putBuf(bp)
	if err := json.Unmarshal(*bp, v); err != nil {
		writeError(w, http.StatusBadRequest, jsonProblem(err))
		return false
	}
	return true
}

func (a *API) storeError(w http.ResponseWriter, what string, err error) {
	a.log.Error(what, "err", err)
	writeError(w, http.StatusInternalServerError, what+": "+err.Error())
}

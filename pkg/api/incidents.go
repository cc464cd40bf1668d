package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/store"
)

// incidentJSON is an incident on the wire.
type incidentJSON struct {
	ID        string       `json:"id"`
	Title     string       `json:"title"`
	Impact    string       `json:"impact"`
	Affected  []string     `json:"affected"`
	Status    string       `json:"status"`
	Draft     bool         `json:"draft"`
	PublishAt *time.Time   `json:"publish_at,omitempty"`
	Source    string       `json:"source,omitempty"`
	Created   time.Time    `json:"created"`
	Resolved  *time.Time   `json:"resolved"`
	Updates   []updateJSON `json:"updates"`
}

type updateJSON struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
	Text   string    `json:"text"`
}

// componentNames writes components as "service" and "service:node".
func componentNames(cs []store.Component) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Service
		if c.Node != "" {
			out[i] += ":" + c.Node
		}
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Second)
	return &t
}

func toIncidentJSON(inc notice.Incident) incidentJSON {
	out := incidentJSON{ID: inc.ID, Title: inc.Title, Impact: inc.Impact, Affected: componentNames(inc.Affected),
		Status: inc.Status, Draft: inc.Draft, PublishAt: timePtr(inc.PublishAt), Source: inc.Source,
		Created: inc.Created.UTC().Truncate(time.Second), Resolved: timePtr(inc.Resolved), Updates: make([]updateJSON, len(inc.Updates))}
	for i, u := range inc.Updates {
		out.Updates[i] = updateJSON{At: u.At.UTC().Truncate(time.Second), Status: u.Status, Text: u.Text}
	}
	return out
}

// deskError answers an error of the incident desk or the schedule.
func (a *API) deskError(w http.ResponseWriter, what string, err error) {
	var invalid *notice.Invalid
	switch {
	case errors.As(err, &invalid):
		writeError(w, http.StatusBadRequest, invalid.Msg)
	case errors.Is(err, notice.ErrNoIncident):
		writeError(w, http.StatusNotFound, err.Error()+" (list them with GET /manager/incidents)")
	case errors.Is(err, notice.ErrResolved), errors.Is(err, notice.ErrNotDraft),
		errors.Is(err, notice.ErrTooManyOpen), errors.Is(err, notice.ErrTooManySteps):
		writeError(w, http.StatusConflict, err.Error())
	default:
		a.storeError(w, what, err)
	}
}

// ListIncidents handles GET /manager/incidents: every incident, drafts
// included, newest first.
func (a *API) ListIncidents(c echo.Context) error {
	if !a.manager(c.Response(), c.Request()) {
		return nil
	}
	all, _ := a.desk.Incidents()
	out := make([]incidentJSON, len(all))
	for i, inc := range all {
		out[i] = toIncidentJSON(inc)
	}
	writeJSON(c.Response(), out)
	return nil
}

// GetIncident handles GET /manager/incident/{id}.
func (a *API) GetIncident(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	id, _ := param(c, "id")
	inc, err := a.desk.Get(id)
	if err != nil {
		a.deskError(w, "read incident", err)
		return nil
	}
	writeJSON(w, toIncidentJSON(inc))
	return nil
}

// OpenIncident handles POST /manager/incident.
func (a *API) OpenIncident(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	var in struct {
		Title    string   `json:"title"`
		Impact   string   `json:"impact"`
		Affected []string `json:"affected"`
		Status   string   `json:"status"`
		Text     string   `json:"text"`
	}
	if !a.decodeJSON(w, c.Request(), &in) {
		return nil
	}
	inc, err := a.desk.Open(c.Request().Context(), notice.NewIncident{Title: in.Title, Impact: in.Impact,
		Affected: in.Affected, Status: in.Status, Text: in.Text})
	if err != nil {
		a.deskError(w, "open incident", err)
		return nil
	}
	writeJSON(w, toIncidentJSON(inc))
	return nil
}

// AddIncidentUpdate handles POST /manager/incident/{id}/update
// {"status","text"}.
func (a *API) AddIncidentUpdate(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	var in struct {
		Status string `json:"status"`
		Text   string `json:"text"`
	}
	if !a.decodeJSON(w, c.Request(), &in) {
		return nil
	}
	id, _ := param(c, "id")
	inc, err := a.desk.AddUpdate(c.Request().Context(), id, in.Status, in.Text)
	if err != nil {
		a.deskError(w, "update incident", err)
		return nil
	}
	writeJSON(w, toIncidentJSON(inc))
	return nil
}

// ResolveIncident handles POST /manager/incident/{id}/resolve {"text"}: the
// last update, status resolved.
func (a *API) ResolveIncident(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	var in struct {
		Text string `json:"text"`
	}
	if !a.decodeJSON(w, c.Request(), &in) {
		return nil
	}
	if in.Text == "" {
		in.Text = "This incident is resolved."
	}
	id, _ := param(c, "id")
	inc, err := a.desk.AddUpdate(c.Request().Context(), id, "resolved", in.Text)
	if err != nil {
		a.deskError(w, "resolve incident", err)
		return nil
	}
	writeJSON(w, toIncidentJSON(inc))
	return nil
}

// EditIncident handles PATCH /manager/incident/{id} with any of
// {"title","impact","affected"}.
func (a *API) EditIncident(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	var in struct {
		Title    *string   `json:"title"`
		Impact   *string   `json:"impact"`
		Affected *[]string `json:"affected"`
	}
	if !a.decodeJSON(w, c.Request(), &in) {
		return nil
	}
	if in.Title == nil && in.Impact == nil && in.Affected == nil {
		writeError(w, http.StatusBadRequest, `nothing to change: send any of "title", "impact", "affected"`)
		return nil
	}
	id, _ := param(c, "id")
	inc, err := a.desk.Change(c.Request().Context(), id, notice.Edit{Title: in.Title, Impact: in.Impact, Affected: in.Affected})
	if err != nil {
		a.deskError(w, "edit incident", err)
		return nil
	}
	writeJSON(w, toIncidentJSON(inc))
	return nil
}

// PublishIncident handles POST /manager/incident/{id}/publish: a draft
// goes public.
func (a *API) PublishIncident(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	id, _ := param(c, "id")
	inc, err := a.desk.Publish(c.Request().Context(), id)
	if err != nil {
		a.deskError(w, "publish incident", err)
		return nil
	}
	writeJSON(w, toIncidentJSON(inc))
	return nil
}

// DiscardIncident handles DELETE /manager/incident/{id}: drafts only;
// public incidents stay in the history.
func (a *API) DiscardIncident(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	id, _ := param(c, "id")
	if err := a.desk.Discard(c.Request().Context(), id); err != nil {
		if errors.Is(err, notice.ErrNotDraft) {
			writeError(w, http.StatusConflict, "only drafts can be deleted; a public incident stays in the history (resolve it instead)")
			return nil
		}
		a.deskError(w, "discard incident", err)
		return nil
	}
	writeOK(w)
	return nil
}

// windowJSON is a maintenance window on the wire.
type windowJSON struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Text     string    `json:"text,omitempty"`
	Affected []string  `json:"affected"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Config   bool      `json:"config"` // from the config file: not removable here
}

// ListMaintenance handles GET /manager/maintenance: the windows open now
// or ahead in the next 30 days, the config's and the API's.
func (a *API) ListMaintenance(c echo.Context) error {
	if !a.manager(c.Response(), c.Request()) {
		return nil
	}
	now := a.now()
	ws := a.schedule.Windows(now, now.Add(30*24*time.Hour))
	out := make([]windowJSON, len(ws))
	for i, win := range ws {
		out[i] = windowJSON{ID: win.ID, Title: win.Title, Text: win.Text, Affected: componentNames(win.Affected),
			Start: win.Start.UTC(), End: win.End.UTC(), Config: len(win.ID) > 7 && win.ID[:7] == "config-"}
	}
	writeJSON(c.Response(), out)
	return nil
}

// ScheduleMaintenance handles POST /manager/maintenance
// {"title","text","affected","start","end"} (RFC 3339 times).
func (a *API) ScheduleMaintenance(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	var in struct {
		Title    string          `json:"title"`
		Text     string          `json:"text"`
		Affected []string        `json:"affected"`
		Start    json.RawMessage `json:"start"`
		End      json.RawMessage `json:"end"`
	}
	if !a.decodeJSON(w, c.Request(), &in) {
		return nil
	}
	start, err1 := rfc3339(in.Start)
	end, err2 := rfc3339(in.End)
	if err := errors.Join(err1, err2); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil
	}
	win, err := a.schedule.Add(c.Request().Context(), notice.NewWindow{Title: in.Title, Text: in.Text,
		Affected: in.Affected, Start: start, End: end})
	if err != nil {
		a.deskError(w, "schedule maintenance", err)
		return nil
	}
	writeJSON(w, windowJSON{ID: win.ID, Title: win.Title, Text: win.Text, Affected: componentNames(win.Affected),
		Start: win.Start.UTC(), End: win.End.UTC()})
	return nil
}

// rfc3339 reads an optional JSON time string.
func rfc3339(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, errors.New("times are RFC 3339 strings like \"2026-12-05T22:00:00Z\"")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New(strconv.Quote(s) + " is not an RFC 3339 time like \"2026-12-05T22:00:00Z\"")
	}
	return t, nil
}

// CancelMaintenance handles DELETE /manager/maintenance/{id}.
func (a *API) CancelMaintenance(c echo.Context) error {
	w := c.Response()
	if !a.manager(w, c.Request()) {
		return nil
	}
	id, _ := param(c, "id")
	ok, err := a.schedule.Remove(c.Request().Context(), id)
	switch {
	case err != nil:
		a.storeError(w, "remove maintenance", err)
	case !ok:
		writeError(w, http.StatusNotFound, "no maintenance window made through the API has id "+strconv.Quote(id)+
			" (windows of the config file are changed there)")
	default:
		writeOK(w)
	}
	return nil
}

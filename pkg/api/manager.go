package api

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/status"
)

// Limits on announcements.
const (
	MaxAnnouncements     = 100
	MaxAnnouncementTitle = 200    // characters
	MaxAnnouncementText  = 10_000 // characters
	// MaxSilence is the longest reminder silence accepted.
	MaxSilence = 365 * 24 * time.Hour
)

// announcementJSON is an announcement on the wire. The protocol's list has
// id and title; text and date are extras for tools that show more.
type announcementJSON struct {
	ID    string    `json:"id"`
	Title string    `json:"title"`
	Text  string    `json:"text"`
	Date  time.Time `json:"date"`
}

// listAnnouncements handles GET /manager/announcements.
func (a *API) listAnnouncements(w http.ResponseWriter) {
	list, _ := a.Announcements()
	out := make([]announcementJSON, len(list))
	for i, an := range list {
		out[i] = announcementJSON{ID: an.ID, Title: an.Title, Text: an.Text, Date: an.Date}
	}
	writeJSON(w, out)
}

// addAnnouncement handles POST /manager/announcement.
func (a *API) addAnnouncement(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title *string `json:"title"`
		Text  *string `json:"text"`
	}
	if !a.decodeJSON(w, r, &in) {
		return
	}
	title, text, msg := cleanAnnouncement(in.Title, in.Text)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	a.annMu.Lock()
	defer a.annMu.Unlock()
	if list, _ := a.Announcements(); len(list) >= MaxAnnouncements {
		writeError(w, http.StatusConflict, "there are already "+strconv.Itoa(MaxAnnouncements)+
			" announcements: retract old ones with DELETE /manager/announcement/{id} first")
		return
	}
	an := Announcement{ID: NewAnnouncementID(), Title: title, Text: text, Date: a.now()}
	if err := a.announcements.Add(an); err != nil {
		a.storeError(w, "add announcement", err)
		return
	}
	if err := a.loadAnnouncementsLocked(); err != nil {
		a.storeError(w, "list announcements", err)
		return
	}
	a.log.Info("announcement published", "id", an.ID, "title", an.Title)
	writeJSON(w, struct {
		ID string `json:"id"`
	}{an.ID})
}

// cleanAnnouncement checks and tidies a new announcement: both parts are
// required, the title is one line, the text keeps its line breaks ("\r\n"
// becomes "\n").
func cleanAnnouncement(titleIn, textIn *string) (title, text, msg string) {
	if titleIn == nil || strings.TrimSpace(*titleIn) == "" {
		return "", "", `missing "title": send {"title":"…","text":"…"}`
	}
	if textIn == nil || strings.TrimSpace(*textIn) == "" {
		return "", "", `missing "text": send {"title":"…","text":"…"}`
	}
	title = strings.TrimSpace(*titleIn)
	text = strings.TrimSpace(strings.ReplaceAll(*textIn, "\r\n", "\n"))
	switch {
	case utf8.RuneCountInString(title) > MaxAnnouncementTitle:
		return "", "", `"title" is longer than ` + strconv.Itoa(MaxAnnouncementTitle) + ` characters`
	case utf8.RuneCountInString(text) > MaxAnnouncementText:
		return "", "", `"text" is longer than ` + strconv.Itoa(MaxAnnouncementText) + ` characters`
	case strings.ContainsFunc(title, unicode.IsControl):
		return "", "", `"title" must be one line without control characters`
	case strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return "", "", `"text" must not contain control characters other than line breaks and tabs`
	}
	return title, text, ""
}

// deleteAnnouncement handles DELETE /manager/announcement/{id}.
func (a *API) deleteAnnouncement(w http.ResponseWriter, id string) {
	a.annMu.Lock()
	defer a.annMu.Unlock()
	found, err := a.announcements.Delete(id)
	if err != nil {
		a.storeError(w, "delete announcement", err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "no announcement with id "+strconv.Quote(id)+" (list them with GET /manager/announcements)")
		return
	}
	if err := a.loadAnnouncementsLocked(); err != nil {
		a.storeError(w, "list announcements", err)
		return
	}
	a.log.Info("announcement retracted", "id", id)
	writeOK(w)
}

type alertJSON struct {
	Probe   string `json:"probe"`
	Node    string `json:"node"`
	Replica string `json:"replica"`
}

// alerts handles GET /manager/prober/alerts: every replica that is not
// healthy. "probe" is the service id, as in the protocol.
func (a *API) alerts(w http.ResponseWriter) {
	out := struct {
		Dead []alertJSON `json:"dead"`
		Sick []alertJSON `json:"sick"`
	}{Dead: []alertJSON{}, Sick: []alertJSON{}}
	for _, svc := range a.reg.Snapshot().Services {
		for _, n := range svc.Nodes {
			for _, rp := range n.Replicas {
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
}

// ignoredJSON is the body of the reminder silence routes; null means none.
type ignoredJSON struct {
	RemindersSeconds *int64 `json:"reminders_seconds"`
}

// getIgnored handles GET /manager/prober/alerts/ignored: the seconds left in
// the silence (rounded up), or null.
func (a *API) getIgnored(w http.ResponseWriter) {
	var out ignoredJSON
	if left := a.silence.Remaining(a.now()); left > 0 {
		secs := int64((left + time.Second - 1) / time.Second)
		out.RemindersSeconds = &secs
	}
	writeJSON(w, out)
}

// putIgnored handles PUT /manager/prober/alerts/ignored: silence reminders
// for N seconds, or end the silence with null or 0.
func (a *API) putIgnored(w http.ResponseWriter, r *http.Request) {
	var in map[string]json.RawMessage
	if !a.decodeJSON(w, r, &in) {
		return
	}
	raw, ok := in["reminders_seconds"]
	if !ok {
		writeError(w, http.StatusBadRequest, `missing "reminders_seconds": send {"reminders_seconds":3600} to silence reminders for an hour, or null to end the silence`)
		return
	}
	var secs *float64
	if err := json.Unmarshal(raw, &secs); err != nil {
		writeError(w, http.StatusBadRequest, `"reminders_seconds" must be a number of seconds or null`)
		return
	}
	if secs == nil || *secs == 0 {
		a.silence.Clear()
		a.log.Info("reminders unsilenced")
		writeOK(w)
		return
	}
	if *secs < 0 || *secs > MaxSilence.Seconds() || math.IsNaN(*secs) {
		writeError(w, http.StatusBadRequest, `"reminders_seconds" must be between 0 and `+strconv.Itoa(int(MaxSilence.Seconds())))
		return
	}
	until := a.now().Add(time.Duration(*secs * float64(time.Second)))
	a.silence.Set(until)
	a.log.Info("reminders silenced", "until", until)
	writeOK(w)
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
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func (a *API) storeError(w http.ResponseWriter, what string, err error) {
	a.log.Error(what, "err", err)
	writeError(w, http.StatusInternalServerError, what+": "+err.Error())
}

// Package notice owns the announcements operators publish on the status
// page: it checks them, keeps them in a store and gives readers the
// published list without locking. It has no HTTP in it.
package notice

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on announcements.
const (
	MaxAnnouncements     = 100
	MaxAnnouncementTitle = 200    // characters
	MaxAnnouncementText  = 10_000 // characters
)

// Announcement is one notice published on the status page.
type Announcement struct {
	ID, Title, Text string
	Date            time.Time // when it was published
}

// Store keeps the published announcements. Implementations must be safe
// for concurrent use.
type Store interface {
	// List returns every announcement, newest first. The caller owns the
	// returned slice.
	List() ([]Announcement, error)
	// Add stores a new announcement; its ID is already set and unique.
	Add(Announcement) error
	// Delete removes an announcement and reports whether it existed.
	Delete(id string) (bool, error)
}

// Invalid is an announcement that cannot be published; its text says why,
// for the operator.
type Invalid struct{ Msg string }

func (e *Invalid) Error() string { return e.Msg }

// ErrFull is returned by Publish when MaxAnnouncements are published.
var ErrFull = errors.New("there are already " + strconv.Itoa(MaxAnnouncements) +
	" announcements: retract old ones with DELETE /manager/announcement/{id} first")

// Board is the one owner of the announcements. It is safe for concurrent use.
type Board struct {
	store Store
	now   func() time.Time
	log   *slog.Logger

	mu   sync.Mutex // serializes writes
	view atomic.Pointer[view]
}

// view is one published list, newest first, and its version.
type view struct {
	list    []Announcement
	version uint64
}

// NewBoard reads the announcements already in store. A nil store keeps
// them in memory only; a nil now is time.Now.
func NewBoard(store Store, now func() time.Time, log *slog.Logger) (*Board, error) {
	if store == nil {
		store = &Memory{}
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Board{store: store, now: now, log: log}
	if err := b.reload(); err != nil {
		return nil, err
	}
	return b, nil
}

// Announcements returns the published announcements, newest first, and a
// version that grows with every change. It is an atomic load, cheap enough
// for every page request. The caller must not modify the list.
func (b *Board) Announcements() ([]Announcement, uint64) {
	v := b.view.Load()
	return v.list, v.version
}

// Publish checks and tidies a new announcement and publishes it: both parts
// are required, the title is one line, the text keeps its line breaks
// ("\r\n" becomes "\n"). It fails with *Invalid, ErrFull or the store's error.
func (b *Board) Publish(title, text string) (Announcement, error) {
	title, text, msg := clean(title, text)
	if msg != "" {
		return Announcement{}, &Invalid{msg}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if list, _ := b.Announcements(); len(list) >= MaxAnnouncements {
		return Announcement{}, ErrFull
	}
	a := Announcement{ID: rand.Text(), Title: title, Text: text, Date: b.now()}
	if err := b.store.Add(a); err != nil {
		return Announcement{}, err
	}
	if err := b.reload(); err != nil {
		return Announcement{}, err
	}
	b.log.Info("announcement published", "id", a.ID, "title", a.Title)
	return a, nil
}

// Retract removes an announcement and reports whether it existed.
func (b *Board) Retract(id string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	found, err := b.store.Delete(id)
	if err != nil || !found {
		return false, err
	}
	if err := b.reload(); err != nil {
		return true, err
	}
	b.log.Info("announcement retracted", "id", id)
	return true, nil
}

// reload publishes the store's list. Caller holds b.mu, or is NewBoard.
func (b *Board) reload() error {
	list, err := b.store.List()
	if err != nil {
		return err
	}
	var version uint64
	if old := b.view.Load(); old != nil {
		version = old.version
	}
	b.view.Store(&view{list: list, version: version + 1})
	return nil
}

// clean checks and tidies a new announcement; msg says what is wrong.
func clean(title, text string) (string, string, string) {
	title = strings.TrimSpace(title)
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	switch {
	case title == "":
		return "", "", `missing "title": send {"title":"…","text":"…"}`
	case text == "":
		return "", "", `missing "text": send {"title":"…","text":"…"}`
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

// Memory is a Store in memory; its content is lost on restart.
type Memory struct {
	mu    sync.RWMutex
	items []Announcement // oldest first
}

var _ Store = (*Memory)(nil)

// List returns every announcement, newest first.
func (s *Memory) List() ([]Announcement, error) {
	s.mu.RLock()
	out := slices.Clone(s.items)
	s.mu.RUnlock()
	slices.Reverse(out)
	return out, nil
}

// Add appends an announcement.
func (s *Memory) Add(a Announcement) error {
	s.mu.Lock()
	s.items = append(s.items, a)
	s.mu.Unlock()
	return nil
}

// Delete removes the announcement with this id.
func (s *Memory) Delete(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.items, func(a Announcement) bool { return a.ID == id })
	if i < 0 {
		return false, nil
	}
	s.items = slices.Delete(s.items, i, i+1)
	return true, nil
}

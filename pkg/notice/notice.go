// Package notice owns the announcements operators publish on the status
// page: it checks them, keeps them in a store and gives readers the
// published list without locking. It has no HTTP in it.
package notice

import (
	"context"
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

	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// Limits on announcements.
const (
	MaxAnnouncements     = 100
	MaxAnnouncementTitle = 200    // characters
	MaxAnnouncementText  = 10_000 // characters
)

// Announcement is one notice published on the status page; Retracted is
// zero while it is shown.
type Announcement = store.Announcement

// Store keeps the announcements, retracted ones too (store.Store is one).
type Store = store.Announcements

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

// view is one state of the board, and its version.
type view struct {
	list      []Announcement // published, newest first
	retracted []Announcement // newest first
	version   uint64
}

// NewBoard reads the announcements already in store. A nil store keeps
// them in memory only; a nil now is time.Now.
func NewBoard(ctx context.Context, store Store, now func() time.Time, log *slog.Logger) (*Board, error) {
	if store == nil {
		store = memory.New()
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Board{store: store, now: now, log: log}
	if err := b.reload(ctx); err != nil {
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

// Retracted returns the retracted announcements, newest first, for the
// page's history. The caller must not modify the list.
func (b *Board) Retracted() []Announcement { return b.view.Load().retracted }

// Publish checks and tidies a new announcement and publishes it: both parts
// are required, the title is one line, the text keeps its line breaks
// ("\r\n" becomes "\n"). It fails with *Invalid, ErrFull or the store's error.
func (b *Board) Publish(ctx context.Context, title, text string) (Announcement, error) {
	title, text, msg := clean(title, text)
	if msg != "" {
		return Announcement{}, &Invalid{msg}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if list, _ := b.Announcements(); len(list) >= MaxAnnouncements {
		return Announcement{}, ErrFull
	}
	a := Announcement{ID: rand.Text(), Title: title, Text: text, Published: b.now()}
	if err := b.store.AddAnnouncement(ctx, a); err != nil {
		return Announcement{}, err
	}
	if err := b.reload(ctx); err != nil {
		return Announcement{}, err
	}
	b.log.Info("announcement published", "id", a.ID, "title", a.Title)
	return a, nil
}

// Retract removes an announcement and reports whether it existed.
func (b *Board) Retract(ctx context.Context, id string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	found, err := b.store.RetractAnnouncement(ctx, id, b.now())
	if err != nil || !found {
		return false, err
	}
	if err := b.reload(ctx); err != nil {
		return true, err
	}
	b.log.Info("announcement retracted", "id", id)
	return true, nil
}

// reload publishes the store's list. Caller holds b.mu, or is NewBoard.
func (b *Board) reload(ctx context.Context) error {
	all, err := b.store.ListAnnouncements(ctx)
	if err != nil {
		return err
	}
	v := &view{}
	for _, a := range all {
		if a.Retracted.IsZero() {
			v.list = append(v.list, a)
		} else {
			v.retracted = append(v.retracted, a)
		}
	}
	slices.SortStableFunc(v.retracted, func(x, y Announcement) int { return y.Retracted.Compare(x.Retracted) })
	if old := b.view.Load(); old != nil {
		v.version = old.version
	}
	v.version++
	b.view.Store(v)
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

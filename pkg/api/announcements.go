package api

import (
	"crypto/rand"
	"slices"
	"sync"

	"github.com/overvakt/overvakt/pkg/page"
)

// Announcement is one notice published on the status page: ID, Title, Text
// and Date (when it was published). It is the page's own type, so the list
// goes to the renderer without copying.
type Announcement = page.Announcement

// AnnouncementStore keeps the published announcements. Implementations must
// be safe for concurrent use; a persistent store can replace the in-memory
// Announcements behind this interface.
type AnnouncementStore interface {
	// List returns every announcement, newest first. The caller owns the
	// returned slice.
	List() ([]Announcement, error)
	// Add stores a new announcement; its ID is already set and unique.
	Add(Announcement) error
	// Delete removes an announcement and reports whether it existed.
	Delete(id string) (bool, error)
}

// NewAnnouncementID returns a random, URL-safe announcement id.
func NewAnnouncementID() string { return rand.Text() }

// Announcements is an in-memory AnnouncementStore; its content is lost on
// restart.
type Announcements struct {
	mu    sync.RWMutex
	items []Announcement // oldest first
}

var _ AnnouncementStore = (*Announcements)(nil)

// NewAnnouncements returns an empty store.
func NewAnnouncements() *Announcements { return &Announcements{} }

// List returns every announcement, newest first.
func (s *Announcements) List() ([]Announcement, error) {
	s.mu.RLock()
	out := make([]Announcement, len(s.items))
	copy(out, s.items)
	s.mu.RUnlock()
	slices.Reverse(out)
	return out, nil
}

// Add appends an announcement.
func (s *Announcements) Add(a Announcement) error {
	s.mu.Lock()
	s.items = append(s.items, a)
	s.mu.Unlock()
	return nil
}

// Delete removes the announcement with this id.
func (s *Announcements) Delete(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.items, func(a Announcement) bool { return a.ID == id })
	if i < 0 {
		return false, nil
	}
	s.items = slices.Delete(s.items, i, i+1)
	return true, nil
}

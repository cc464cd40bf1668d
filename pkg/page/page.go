// Package page renders the public status page from a status snapshot with
// html/template. Templates and assets come from an fs.FS laid out like res/
// (templates/…, assets/…), so an operator's folder can override them.
package page

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/markdown"
	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/status"
)

// Announcement is a notice the operator published on the page.
type Announcement = notice.Announcement

// View is everything one rendering of the page shows.
type View struct {
	Snapshot *status.Snapshot
	// Announcements in any order; the page lists them newest first.
	Announcements []Announcement
	// Now gives the footer year, and "refreshed" when the snapshot has no time.
	Now time.Time
	// Version is opaque to the page: its script reloads the page as soon as
	// GET /status/version reports another page_version.
	Version uint64
	// History draws each node's 90 days, uptime and response times; nil
	// draws none.
	History *history.View
	// Incidents open on the page (drafts left out), in any order; the
	// page lists them newest first.
	Incidents []Incident
	// Windows of maintenance around Now, in any order: Listed picks those
	// shown, and those open at Now mark what they cover.
	Windows []Window
	// MailOn offers the subscription by e-mail; the Atom feed is always
	// offered.
	MailOn bool
}

// Renderer turns views into HTML. It is safe for concurrent use.
type Renderer struct {
	page, errPage *template.Template
	past          *template.Template // /history
	message       *template.Template // answers of the subscription pages
	head          head
	csp           string
	fsys          fs.FS
	loc           *time.Location
	md            *markdown.Renderer
	assetURLs     sync.Map // asset name → "/assets/name?v=hash"
}

// head is the part of the page fixed by the branding.
type head struct {
	Title, Company               string
	WebsiteURL, SupportURL       string
	LogoURL, IconURL, ThemeColor string
	BrandStyle                   template.CSS
	CustomHTML                   template.HTML
}

// New parses templates/page.html, history.html, message.html and error.html from fsys and
// prepares the parts of the page that depend on the branding alone.
func New(b config.Branding, fsys fs.FS) (*Renderer, error) {
	r := &Renderer{fsys: fsys, loc: time.Local, md: markdown.New()}
	funcs := template.FuncMap{"asset": r.AssetURL}
	var err error
	if r.page, err = parse(fsys, "templates/page.html", funcs); err != nil {
		return nil, err
	}
	if r.errPage, err = parse(fsys, "templates/error.html", funcs); err != nil {
		return nil, err
	}
	if r.past, err = parse(fsys, "templates/history.html", funcs); err != nil {
		return nil, err
	}
	if r.message, err = parse(fsys, "templates/message.html", funcs); err != nil {
		return nil, err
	}

	r.head = head{
		Title:      b.PageTitle,
		Company:    b.CompanyName,
		WebsiteURL: b.WebsiteURL,
		SupportURL: b.SupportURL,
		LogoURL:    b.LogoURL,
		IconURL:    b.IconURL,
		CustomHTML: template.HTML(b.CustomHTML), // the operator's own markup, by design unescaped
	}
	if r.head.Title == "" {
		r.head.Title = "Status Page"
	}
	if r.head.Company == "" {
		r.head.Company = r.head.Title
	}
	if r.head.LogoURL == "" {
		r.head.LogoURL = r.AssetURL("images/logo.svg")
	}
	if isCSSColor(b.IconColor) {
		r.head.ThemeColor = b.IconColor
	}
	var brandStyle string
	if isCSSColor(b.LogoColor) {
		brandStyle = ":root{--logo:" + b.LogoColor + "}"
		r.head.BrandStyle = template.CSS(brandStyle)
	}
	r.csp = contentSecurityPolicy(b, brandStyle)
	return r, nil
}

func parse(fsys fs.FS, name string, funcs template.FuncMap) (*template.Template, error) {
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("page: read template %s: %w (restore it or remove the override from the assets path)", name, err)
	}
	t, err := template.New(path.Base(name)).Funcs(funcs).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("page: parse template %s: %w", name, err)
	}
	return t, nil
}

// isCSSColor accepts #rgb/#rrggbb(aa), rgb()/hsl() with plain numbers, or
// a colour keyword: enough for branding, and nothing that can break out of
// CSS. (A regular expression would do, at 80 kB of memory for good.)
func isCSSColor(s string) bool {
	const (
		hexDigits = "0123456789abcdefABCDEF"
		lower     = "abcdefghijklmnopqrstuvwxyz"
		letters   = lower + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	)
	if hex, ok := strings.CutPrefix(s, "#"); ok {
		return len(hex) >= 3 && len(hex) <= 8 && only(hex, hexDigits)
	}
	if fn, args, ok := strings.Cut(s, "("); ok {
		args, closed := strings.CutSuffix(args, ")")
		switch fn {
		case "rgb", "rgba", "hsl", "hsla":
			return closed && len(args) >= 1 && len(args) <= 60 && only(args, "0123456789., %/-"+lower)
		}
		return false
	}
	return len(s) >= 3 && len(s) <= 30 && only(s, letters)
}

// only reports whether s is made of bytes in set alone.
func only(s, set string) bool {
	for i := range len(s) {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// ContentSecurityPolicy is the policy the page needs, including what the
// branding brings along (logo and icon hosts, custom_html's scripts and styles).
func (r *Renderer) ContentSecurityPolicy() string { return r.csp }

// Render writes the status page for v.
func (r *Renderer) Render(w io.Writer, v View) error {
	if v.Snapshot == nil {
		return fmt.Errorf("page: render: no snapshot")
	}
	if err := r.page.Execute(w, r.view(v)); err != nil {
		return fmt.Errorf("page: render templates/page.html: %w", err)
	}
	return nil
}

// RenderError writes a small HTML page for an HTTP error.
func (r *Renderer) RenderError(w io.Writer, code int, message string) error {
	data := struct {
		Head    *head
		Code    int
		Message string
	}{&r.head, code, message}
	if err := r.errPage.Execute(w, data); err != nil {
		return fmt.Errorf("page: render templates/error.html: %w", err)
	}
	return nil
}

// Message is a short page: what happened (Title, Text) and, with Action,
// one button that posts to Action.URL.
type Message struct {
	Title, Text string
	Action      *Action
}

// Action is a message's button.
type Action struct{ URL, Label string }

// RenderMessage writes a Message page.
func (r *Renderer) RenderMessage(w io.Writer, m Message) error {
	data := struct {
		Head *head
		Message
	}{&r.head, m}
	if err := r.message.Execute(w, data); err != nil {
		return fmt.Errorf("page: render templates/message.html: %w", err)
	}
	return nil
}

// AssetURL returns the public URL of an asset with a content hash in the
// query, so the files can be cached for long and still change on upgrade.
func (r *Renderer) AssetURL(name string) string {
	if u, ok := r.assetURLs.Load(name); ok {
		return u.(string)
	}
	u := "/assets/" + (&url.URL{Path: name}).EscapedPath()
	if b, err := fs.ReadFile(r.fsys, "assets/"+name); err == nil {
		u += "?v=" + Hash(b)
	}
	r.assetURLs.Store(name, u)
	return u
}

// Hash is the short content hash used in asset URLs and ETags.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

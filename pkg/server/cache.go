package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overvakt/overvakt/pkg/page"
)

// doc is a response body ready to send: built once, served many times.
// The header values are prebuilt slices so that serving one is a few map
// writes and one Write, with no allocation.
type doc struct {
	key   docKey
	built time.Time
	took  time.Duration // to build
	// until is when the state shown changes by itself (a maintenance
	// window starts or ends); zero: not before the key does.
	until time.Time

	body, gz             []byte // gz is nil when compression does not pay
	etag, etagGz         []string
	length, lengthGz     []string
	contentType, caching []string
}

// docKey says which state a doc shows.
type docKey struct {
	version       uint64 // status.Snapshot.Version
	statusVersion uint64 // status.Snapshot.StatusVersion
	annVersion    uint64 // announcements
	histVersion   uint64 // history.View.Version: rebuilt every minute
	incVersion    uint64 // incidents
	maintVersion  uint64 // maintenance windows made through the API
	edges         uint64 // window starts and ends passed (Server.edges)
	variant       string // the feed: the address its links are made from
}

// sameStatus reports whether two states differ at most in latencies.
func (k docKey) sameStatus(o docKey) bool {
	return k.statusVersion == o.statusVersion && k.annVersion == o.annVersion && k.histVersion == o.histVersion &&
		k.incVersion == o.incVersion && k.maintVersion == o.maintVersion && k.edges == o.edges
}

// covers reports whether a doc built for k is at least as new as o.
func (k docKey) covers(o docKey) bool {
	return k.version >= o.version && k.annVersion >= o.annVersion && k.histVersion >= o.histVersion &&
		k.incVersion >= o.incVersion && k.maintVersion >= o.maintVersion && k.edges >= o.edges && k.variant == o.variant
}

// stale reports whether d, built for its key, no longer shows now's
// state of a window.
func (d *doc) stale(now time.Time) bool { return !d.until.IsZero() && !now.Before(d.until) }

func newDoc(body []byte, contentType, caching []string) *doc {
	return &doc{
		body:        body,
		etag:        []string{`"` + page.Hash(body) + `"`},
		length:      []string{strconv.Itoa(len(body))},
		contentType: contentType,
		caching:     caching,
	}
}

// compress adds the gzip encoding when it pays. It must run before d is
// shared.
func (d *doc) compress(zp *gzipPool) {
	if len(d.body) <= 256 {
		return
	}
	if d.gz = zp.compress(d.body); d.gz != nil {
		d.etagGz = []string{strings.TrimSuffix(d.etag[0], `"`) + `-gz"`}
		d.lengthGz = []string{strconv.Itoa(len(d.gz))}
	}
}

// gzipPool lends gzip writers at BestCompression. A writer holds about
// 0.8 MB of tables, so one is made only when something is compressed, and
// the garbage collector takes idle ones back: an idle server keeps none.
// The zero value is ready to use.
type gzipPool struct{ pool sync.Pool }

type gzipScratch struct {
	zw  *gzip.Writer
	buf bytes.Buffer
}

// compress returns body gzipped, or nil when that saves less than a tenth.
func (p *gzipPool) compress(body []byte) []byte {
	s, _ := p.pool.Get().(*gzipScratch)
	if s == nil {
		zw, _ := gzip.NewWriterLevel(nil, gzip.BestCompression) // the level is valid
		s = &gzipScratch{zw: zw}
	}
	defer p.pool.Put(s)
	s.buf.Reset()
	s.zw.Reset(&s.buf)
	_, _ = s.zw.Write(body) // writes to a bytes.Buffer do not fail
	_ = s.zw.Close()
	if s.buf.Len() >= len(body)*9/10 {
		return nil
	}
	return bytes.Clone(s.buf.Bytes())
}

// docCache holds the latest doc of one kind (the page, the report) and
// makes sure only one goroutine builds a new one at a time.
type docCache struct {
	cur atomic.Pointer[doc]

	name  string    // for the metrics: "page", "report", "history", "feed"
	meter PageMeter // nil: nobody counts

	mu sync.Mutex // held while building; guards buf
	// build writes the body for the current state (and want's variant)
	// into buf and says which state that was, and until when it holds
	// (zero: until the state changes).
	build       func(buf *bytes.Buffer, want docKey) (docKey, time.Time, error)
	contentType []string
	caching     []string
	buf         bytes.Buffer
	gzip        *gzipPool

	// A cache that runs (see run) builds in the background when states
	// follow each other faster than it can build: want is the newest
	// state asked for, kick wakes the builder.
	running atomic.Bool
	want    atomic.Pointer[docKey]
	kick    chan struct{}
}

func newDocCache(name string, meter PageMeter, contentType, caching string, zp *gzipPool, build func(*bytes.Buffer, docKey) (docKey, time.Time, error)) *docCache {
	return &docCache{name: name, meter: meter, build: build, contentType: []string{contentType}, caching: []string{caching}, gzip: zp,
		kick: make(chan struct{}, 1)}
}

// served counts a request answered with d, the doc current when it came
// in (before) or one built since.
func (c *docCache) served(before, d *doc) {
	if c.meter != nil && d != nil && d == before {
		c.meter.Hit(c.name)
	}
}

// fresh returns a doc for want. Usually it is built there and then. When
// the last build ended less than twice its own length ago (statuses that
// flap many times a second), the current doc is served and a build in the
// background catches up, so that building takes at most a third of the
// server's time and no request waits for it.
func (c *docCache) fresh(want docKey) (*doc, error) {
	d := c.cur.Load()
	if d != nil && c.running.Load() && time.Since(d.built) < 2*d.took {
		c.want.Store(&want)
		select {
		case c.kick <- struct{}{}:
		default:
		}
		return d, nil
	}
	return c.rebuild(want)
}

// run builds in the background what fresh asks for, until ctx ends.
func (c *docCache) run(ctx context.Context) {
	c.running.Store(true)
	defer c.running.Store(false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		if d := c.cur.Load(); d != nil {
			wait := time.NewTimer(time.Until(d.built.Add(2 * d.took)))
			select {
			case <-ctx.Done():
				wait.Stop()
				return
			case <-wait.C:
			}
		}
		if want := c.want.Load(); want != nil {
			_, _ = c.rebuild(*want) // a failure keeps the last good doc; requests log it
		}
	}
}

// rebuild returns a doc at least as new as want, built by the calling
// goroutine. While another goroutine is building, the previous doc is
// served instead of waiting: the build takes milliseconds, and queueing
// every request behind it would show in the latency tail.
func (c *docCache) rebuild(want docKey) (*doc, error) {
	if !c.mu.TryLock() {
		if d := c.cur.Load(); d != nil {
			return d, nil
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if d := c.cur.Load(); d != nil && d.key.covers(want) && !d.stale(time.Now()) {
		return d, nil // built while we waited
	}
	c.buf.Reset()
	start := time.Now()
	key, until, err := c.build(&c.buf, want)
	if err != nil {
		prev := c.cur.Load()
		if prev != nil {
			// Keep serving the last good body, but mark it as tried for
			// this state, so a failing build is not retried on every request.
			retry := *prev
			retry.key, retry.built, retry.until = key, time.Now(), until
			c.cur.Store(&retry)
		}
		return prev, err
	}
	d := newDoc(bytes.Clone(c.buf.Bytes()), c.contentType, c.caching)
	d.compress(c.gzip)
	d.key = key
	d.built = time.Now()
	d.took = d.built.Sub(start)
	d.until = until
	c.cur.Store(d)
	if c.meter != nil {
		c.meter.Rendered(c.name)
	}
	return d, nil
}

// Prebuilt header values, shared by every response and never modified
// (their capacity equals their length, so even an append would copy).
var (
	hdrGzip       = []string{"gzip"}
	hdrVary       = []string{"Accept-Encoding"}
	hdrNoCache    = []string{"no-cache"}
	hdrImmutable  = []string{"public, max-age=31536000, immutable"}
	hdrDay        = []string{"public, max-age=86400"}
	hdrHTML       = []string{"text/html; charset=utf-8"}
	hdrJSON       = []string{"application/json; charset=utf-8"}
	hdrText       = []string{"text/plain; charset=utf-8"}
	hdrAnyOrigin  = []string{"*"}
	hdrNoSniff    = []string{"nosniff"}
	hdrNoReferrer = []string{"no-referrer"}
	hdrDeny       = []string{"DENY"}
	hdrSameOrigin = []string{"same-origin"}
)

// serveDoc writes d, gzipped when the client takes it, or 304 when the
// client already has it.
func serveDoc(w http.ResponseWriter, r *http.Request, d *doc, caching []string) {
	h := w.Header()
	h["Content-Type"] = d.contentType
	h["Cache-Control"] = caching
	body, etag, length := d.body, d.etag, d.length
	if d.gz != nil {
		h["Vary"] = hdrVary
		if acceptsGzip(r.Header["Accept-Encoding"]) {
			body, etag, length = d.gz, d.etagGz, d.lengthGz
			h["Content-Encoding"] = hdrGzip
		}
	}
	h["Etag"] = etag
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm, d) {
		delete(h, "Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = length
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches applies If-None-Match (weak comparison) against both
// encodings of d: they carry the same content.
func etagMatches(values []string, d *doc) bool {
	for _, v := range values {
		for v != "" {
			var tag string
			tag, v, _ = strings.Cut(v, ",")
			tag = strings.TrimSpace(tag)
			tag = strings.TrimPrefix(tag, "W/")
			if tag == "*" || tag == d.etag[0] || (d.etagGz != nil && tag == d.etagGz[0]) {
				return true
			}
		}
	}
	return false
}

// acceptsGzip reads Accept-Encoding without allocating: gzip (or *) listed
// and not refused with q=0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			if !strings.EqualFold(name, "gzip") && !strings.EqualFold(name, "x-gzip") && name != "*" {
				continue
			}
			if refused(params) {
				if name == "*" {
					continue
				}
				return false
			}
			return true
		}
	}
	return false
}

// refused reports a q=0 parameter ("q=0", "q=0.0", "q=0.000").
func refused(params string) bool {
	params = strings.TrimSpace(params)
	q, ok := strings.CutPrefix(params, "q=")
	if !ok {
		q, ok = strings.CutPrefix(params, "Q=")
	}
	if !ok {
		return false
	}
	q = strings.TrimSpace(q)
	if q == "" || q[0] != '0' {
		return false
	}
	return strings.Trim(q[1:], ".0") == ""
}

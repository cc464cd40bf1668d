package server

import (
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// maxAssetSize keeps an operator's stray large file out of memory.
const maxAssetSize = 8 << 20

// asset is a file below /assets/. Its gzip encoding is made on its first
// request rather than at start: a gzip writer costs about 0.8 MB, and an
// idle server or a client of the API alone never needs one.
type asset struct {
	once sync.Once
	doc  *doc
	gzip *gzipPool // nil when the type does not compress
}

// ready returns the doc to serve, compressing it the first time.
func (a *asset) ready() *doc {
	a.once.Do(func() {
		if a.gzip != nil {
			a.doc.compress(a.gzip)
		}
	})
	return a.doc
}

// loadAssets reads every file below assets/ into memory: the embedded ones
// first, then the operator's folder, whose files win by path. Changes on
// disk are picked up on restart.
func loadAssets(embedded, disk fs.FS, zp *gzipPool) (map[string]*asset, error) {
	out := map[string]*asset{}
	load := func(fsys fs.FS, where string) error {
		err := fs.WalkDir(fsys, "assets", func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			if info.Size() > maxAssetSize {
				return fmt.Errorf("asset %s in %s is larger than %d MiB; make it smaller or serve it elsewhere", p, where, maxAssetSize>>20)
			}
			body, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			ctype := contentType(path.Ext(p))
			a := &asset{doc: newDoc(body, []string{ctype}, nil)}
			if compressible(ctype) {
				a.gzip = zp
			}
			out[strings.TrimPrefix(p, "assets/")] = a
			return nil
		})
		if err != nil {
			return fmt.Errorf("load assets from %s: %w", where, err)
		}
		return nil
	}
	if err := load(embedded, "the embedded files"); err != nil {
		return nil, err
	}
	if disk != nil {
		if _, err := fs.Stat(disk, "assets"); err == nil {
			if err := load(disk, "[assets] path"); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// contentType knows the types a page uses itself. Package mime is asked
// only for other extensions: its first call reads the system's MIME
// database, about 0.8 MB of memory kept for good.
func contentType(ext string) string {
	switch strings.ToLower(ext) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".json":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".avif":
		return "image/avif"
	case ".ico":
		return "image/vnd.microsoft.icon"
	case ".woff":
		return "font/woff"
	case ".woff2":
		return "font/woff2"
	case ".ttf":
		return "font/ttf"
	case ".otf":
		return "font/otf"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".xml":
		return "text/xml; charset=utf-8"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg") || strings.Contains(ctype, "xml")
}

// handleAsset serves /assets/…; the page links them with ?v=<hash>, which
// makes them safe to cache for a year.
func (s *Server) handleAsset(c echo.Context) error {
	r := c.Request()
	a, ok := s.assets[strings.TrimPrefix(r.URL.Path, "/assets/")]
	if !ok {
		return echo.ErrNotFound
	}
	caching := hdrDay
	if strings.Contains(r.URL.RawQuery, "v=") {
		caching = hdrImmutable
	}
	serveDoc(c.Response(), r, a.ready(), caching)
	return nil
}

// handleBadge serves /badge/color and /badge/icon for the current status.
func (s *Server) handleBadge(c echo.Context) error {
	kind := c.Param("kind")
	if kind != "color" && kind != "icon" {
		return echo.NewHTTPError(http.StatusNotFound, "unknown badge "+kind+" (want color or icon)")
	}
	name := "badges/" + kind + "-" + s.reg.Snapshot().Status.String() + ".svg"
	a, ok := s.assets[name]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "badge file assets/"+name+" is missing")
	}
	c.Response().Header()["Access-Control-Allow-Origin"] = hdrAnyOrigin
	serveDoc(c.Response(), c.Request(), a.ready(), hdrNoCache)
	return nil
}

// handleRobots serves assets/robots.txt at /robots.txt.
func (s *Server) handleRobots(c echo.Context) error {
	a, ok := s.assets["robots.txt"]
	if !ok {
		return echo.ErrNotFound
	}
	serveDoc(c.Response(), c.Request(), a.ready(), hdrDay)
	return nil
}

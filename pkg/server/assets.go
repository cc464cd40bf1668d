package server

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// maxAssetSize keeps an operator's stray large file out of memory.
const maxAssetSize = 8 << 20

// loadAssets reads every file below assets/ into memory: the embedded ones
// first, then the operator's folder, whose files win by path. Changes on
// disk are picked up on restart.
func loadAssets(embedded, disk fs.FS) (map[string]*doc, error) {
	out := map[string]*doc{}
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestCompression) // the level is valid
	var zbuf bytes.Buffer
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
			ctype := mime.TypeByExtension(path.Ext(p))
			if ctype == "" {
				ctype = "application/octet-stream"
			}
			out[strings.TrimPrefix(p, "assets/")] = newDoc(body, []string{ctype}, nil, compressible(ctype), zw, &zbuf)
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

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg") || strings.Contains(ctype, "xml")
}

// handleAsset serves /assets/…; the page links them with ?v=<hash>, which
// makes them safe to cache for a year.
func (s *Server) handleAsset(c echo.Context) error {
	r := c.Request()
	d, ok := s.assets[strings.TrimPrefix(r.URL.Path, "/assets/")]
	if !ok {
		return echo.ErrNotFound
	}
	caching := hdrDay
	if strings.Contains(r.URL.RawQuery, "v=") {
		caching = hdrImmutable
	}
	serveDoc(c.Response(), r, d, caching)
	return nil
}

// handleBadge serves /badge/color and /badge/icon for the current status.
func (s *Server) handleBadge(c echo.Context) error {
	kind := c.Param("kind")
	if kind != "color" && kind != "icon" {
		return echo.NewHTTPError(http.StatusNotFound, "unknown badge "+kind+" (want color or icon)")
	}
	name := "badges/" + kind + "-" + s.reg.Snapshot().Status.String() + ".svg"
	d, ok := s.assets[name]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "badge file assets/"+name+" is missing")
	}
	c.Response().Header()["Access-Control-Allow-Origin"] = hdrAnyOrigin
	serveDoc(c.Response(), c.Request(), d, hdrNoCache)
	return nil
}

// handleRobots serves assets/robots.txt at /robots.txt.
func (s *Server) handleRobots(c echo.Context) error {
	d, ok := s.assets["robots.txt"]
	if !ok {
		return echo.ErrNotFound
	}
	serveDoc(c.Response(), c.Request(), d, hdrDay)
	return nil
}

// Package res holds the files the server ships: page templates (templates/…)
// and static assets (assets/…). A folder given as [assets] path in the
// config overrides them file by file.
package res

import (
	"embed"
	"io/fs"
)

//go:embed templates assets
var files embed.FS

// FS returns the embedded files, rooted so that paths read "templates/page.html"
// and "assets/page.css".
func FS() fs.FS { return files }

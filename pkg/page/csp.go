package page

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"

	"github.com/overvakt/overvakt/pkg/config"
)

// contentSecurityPolicy builds the page's policy: only our own scripts,
// styles and images, plus what the branding asks for.
//
// custom_html is the operator's markup and goes into <head> as is. Rather
// than open the policy with 'unsafe-inline', its inline <script> and <style>
// elements are allowed by their SHA-256 hash, and the hosts of the scripts,
// stylesheets and images it links to are allowed by origin. Inline event
// handlers (onclick=…) and style="" attributes in custom_html stay blocked.
func contentSecurityPolicy(b config.Branding, brandStyle string) string {
	scripts := []string{"'self'"}
	styles := []string{"'self'"}
	images := []string{"'self'", "data:"}
	fonts := []string{"'self'", "data:"}

	if brandStyle != "" {
		styles = append(styles, hashSource(brandStyle))
	}
	images = addOrigin(images, b.LogoURL)
	images = addOrigin(images, b.IconURL)

	for _, t := range startTags(b.CustomHTML) {
		switch t.name {
		case "script":
			if src := t.attr("src"); src != "" {
				scripts = addOrigin(scripts, src)
			} else if t.text != "" {
				scripts = appendNew(scripts, hashSource(t.text))
			}
		case "style":
			if t.text != "" {
				styles = appendNew(styles, hashSource(t.text))
			}
		case "link":
			rel := strings.ToLower(t.attr("rel"))
			switch {
			case strings.Contains(rel, "stylesheet"):
				styles = addOrigin(styles, t.attr("href"))
			case strings.Contains(rel, "icon"):
				images = addOrigin(images, t.attr("href"))
			case strings.Contains(rel, "preload") && t.attr("as") == "font":
				fonts = addOrigin(fonts, t.attr("href"))
			}
		case "img":
			images = addOrigin(images, t.attr("src"))
		}
	}

	return "default-src 'none'" +
		"; script-src " + strings.Join(scripts, " ") +
		"; style-src " + strings.Join(styles, " ") +
		"; img-src " + strings.Join(images, " ") +
		"; font-src " + strings.Join(fonts, " ") +
		"; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// addOrigin allows the origin of an absolute http(s) URL; relative URLs are
// covered by 'self'.
func addOrigin(list []string, raw string) []string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || strings.ContainsAny(u.Host, " ;,'") {
		return list
	}
	scheme := u.Scheme
	if scheme == "" { // protocol-relative "//cdn.example.com/x"
		scheme = "https"
	}
	if scheme != "http" && scheme != "https" {
		return list
	}
	return appendNew(list, scheme+"://"+u.Host)
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

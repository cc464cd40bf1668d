// Package markdown renders what operators write on incidents and
// maintenance windows: Markdown with links, emphasis and lists, and
// nothing else. HTML written in the text is shown as text, never as
// markup, and what comes out passes a sanitizer that keeps only those
// few elements, so a mistake in either stage lets nothing through.
package markdown

import (
	"bytes"
	"html/template"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
)

// Renderer turns Markdown into safe HTML. It is safe for concurrent use.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// New builds a renderer.
func New() *Renderer {
	md := goldmark.New(
		goldmark.WithExtensions(extension.NewLinkify(extension.WithLinkifyAllowedProtocols([]string{"http:", "https:", "mailto:"}))),
		// Line breaks stay line breaks: operators type them meaning them.
		goldmark.WithRendererOptions(html.WithHardWraps(),
			renderer.WithNodeRenderers(util.Prioritized(rawAsText{}, 100))),
	)
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "em", "strong", "ul", "ol", "li")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(true)
	return &Renderer{md: md, policy: p}
}

// HTML renders text. The result goes into a page as it is.
func (r *Renderer) HTML(text string) template.HTML {
	var buf bytes.Buffer
	if err := r.md.Convert([]byte(text), &buf); err != nil {
		// Converting to a buffer fails only on a parser bug; show the
		// text as text rather than nothing.
		return template.HTML("<p>" + template.HTMLEscapeString(text) + "</p>")
	}
	return template.HTML(strings.TrimSpace(r.policy.Sanitize(buf.String())))
}

// rawAsText renders the HTML written in a text (inline, and blocks) as
// the text it is, escaped, instead of goldmark's "raw HTML omitted": what
// the operator wrote shows, but never as markup.
type rawAsText struct{}

func (rawAsText) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, func(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			segs := n.(*ast.RawHTML).Segments
			for i := range segs.Len() {
				seg := segs.At(i)
				_, _ = w.WriteString(template.HTMLEscapeString(string(seg.Value(source))))
			}
		}
		return ast.WalkSkipChildren, nil
	})
	reg.Register(ast.KindHTMLBlock, func(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		b := n.(*ast.HTMLBlock)
		_, _ = w.WriteString("<p>")
		lines := b.Lines()
		for i := range lines.Len() {
			line := lines.At(i)
			_, _ = w.WriteString(template.HTMLEscapeString(string(line.Value(source))))
		}
		if b.HasClosure() {
			_, _ = w.WriteString(template.HTMLEscapeString(string(b.ClosureLine.Value(source))))
		}
		_, _ = w.WriteString("</p>\n")
		return ast.WalkSkipChildren, nil
	})
}

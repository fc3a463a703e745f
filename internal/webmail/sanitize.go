package webmail

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"

	"pail/internal/message"
)

// newPolicy returns the sanitizer for HTML mail: bluemonday's UGC policy
// (no scripts, no event handlers, no forms, no javascript: URLs, no style
// elements) plus the presentational attributes and inline styles mail
// uses. Without remote, images are kept only when inline (data: URLs from
// the message's own parts). The frame's Content-Security-Policy blocks
// whatever might slip through.
func newPolicy(remote bool) *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowDataURIImages()
	p.AllowRelativeURLs(false)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowElements("font", "center")
	p.AllowAttrs("color", "face", "size").OnElements("font")
	p.AllowAttrs("bgcolor", "align", "valign", "width", "height", "border", "cellpadding", "cellspacing").
		OnElements("table", "tr", "td", "th", "tbody", "thead", "img", "div", "p")
	p.AllowStyles("color", "background-color", "font-family", "font-size", "font-weight", "font-style",
		"text-align", "text-decoration", "line-height", "margin", "padding", "border", "width", "max-width",
		"height", "vertical-align", "white-space").Globally()
	if !remote {
		p.RewriteSrc(func(u *url.URL) {
			if u.Scheme != "data" {
				*u = url.URL{}
			}
		})
	}
	return p
}

// remoteRef finds URLs that would load from the network: src, background
// and srcset attributes and CSS url().
var remoteRef = regexp.MustCompile(`(?i)(\b(src|background|srcset|poster)\s*=\s*["']?\s*(https?:)?//)|url\(\s*["']?\s*(https?:)?//`)

// hasRemote reports whether the HTML refers to remote resources, to offer
// the reader the button that shows them.
func hasRemote(html string) bool { return remoteRef.MatchString(html) }

// inlineCIDs replaces cid: references to the message's own inline images
// by data: URLs (RFC 2392), before sanitizing.
func inlineCIDs(html string, parts []message.Part) string {
	for _, p := range parts {
		if p.ContentID == "" || p.Data == nil || !safeImageType(p.ContentType) {
			continue
		}
		data := "data:" + p.ContentType + ";base64," + base64.StdEncoding.EncodeToString(p.Data)
		html = strings.ReplaceAll(html, "cid:"+p.ContentID, data)
	}
	return html
}

// safeImageType allows the raster image types browsers show; SVG is left
// out since it can carry script.
func safeImageType(t string) bool {
	switch t {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp":
		return true
	}
	return false
}

// sanitize makes an HTML body safe to show.
func (s *Server) sanitize(html string, parts []message.Part, remote bool) string {
	p := s.blocked
	if remote {
		p = s.remote
	}
	return p.Sanitize(inlineCIDs(html, parts))
}

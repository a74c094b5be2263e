package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed templates
var templateFS embed.FS

// templates holds every page, each parsed together with the layout and the
// partials, plus the partials alone for fragments (live events, sidebar).
type templates struct {
	pages    map[string]*template.Template // by file name without ".html"
	partials *template.Template
}

// parseTemplates parses everything once, at start: a missing template or a
// syntax error fails Handler, not the first request that needs it.
func parseTemplates(a *assets) (*templates, error) {
	funcs := template.FuncMap{
		"asset": a.url,
		// iso and clock format times in UTC; the page's script shows them
		// in the viewer's local time.
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"clock":    func(t time.Time) string { return t.UTC().Format("15:04") },
		"date":     func(t time.Time) string { return t.UTC().Format("Jan 2, 2006") },
		"initials": initials,
		"hue":      hue,
		"ids": func(ids []int64) string {
			s := make([]string, len(ids))
			for i, id := range ids {
				s[i] = strconv.FormatInt(id, 10)
			}
			return strings.Join(s, " ")
		},
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	t := &templates{pages: map[string]*template.Template{}, partials: base}
	files, err := fs.Glob(templateFS, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		clone, err := base.Clone()
		if err != nil {
			return nil, err
		}
		page, err := clone.ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("parse templates: %w", err)
		}
		name := strings.TrimSuffix(path.Base(f), ".html")
		if page.Lookup("content") == nil {
			return nil, fmt.Errorf("parse templates: %s defines no \"content\"", f)
		}
		t.pages[name] = page
	}
	for _, name := range []string{"message", "boost", "sidebar"} {
		if base.Lookup(name) == nil {
			return nil, fmt.Errorf("parse templates: partial %q is missing", name)
		}
	}
	return t, nil
}

// contentSecurityPolicy allows only our own scripts, styles and sockets:
// message HTML is sanitized, and this is the second line of defence.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// renderPage renders a full page with the layout. It renders into a buffer
// first, so a template error becomes an error page instead of half a page.
func (s *Server) renderPage(w http.ResponseWriter, status int, name string, data any) error {
	t, ok := s.templates.pages[name]
	if !ok {
		return fmt.Errorf("render page: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render page %s: %w", name, err)
	}
	writeHTML(w, status, buf.Bytes())
	return nil
}

// renderFragment renders a partial ("message", "boost", "sidebar") alone.
func (s *Server) renderFragment(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := s.templates.partials.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func writeHTML(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // pages show private conversations
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded static file, served under a name that carries a
// hash of its content.
type asset struct {
	content     []byte
	contentType string
	etag        string
}

// assets maps the plain names templates use ("app.js") to content-hashed
// URLs ("/static/app.1a2b3c4d5e6f.js") and serves those URLs. A file's URL
// changes whenever its bytes do, so browsers may cache it forever.
type assets struct {
	urls   map[string]string // plain name → URL path
	byFile map[string]*asset // hashed file name → asset
}

// loadAssets hashes every embedded static file. It runs once, at start.
func loadAssets() (*assets, error) {
	a := &assets{urls: map[string]string{}, byFile: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(b)
		hash := hex.EncodeToString(sum[:6])
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		a.urls[name] = "/static/" + hashed
		a.byFile[hashed] = &asset{content: b, contentType: ctype, etag: `"` + hash + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static assets: %w", err)
	}
	return a, nil
}

// url returns the hashed URL of a static file. An unknown name is a bug in
// a template, so it fails the render (and the start-up template check).
func (a *assets) url(name string) (string, error) {
	u, ok := a.urls[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return u, nil
}

// handleStatic serves a hashed static file with an immutable cache policy.
// Old hashes are gone after a deploy; pages always name the current ones.
func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := s.assets.byFile[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(f.content)
}

package hub

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed web
var webFiles embed.FS

// contentSecurityPolicy lets the page load only its own files and talk only
// to its own origin (WebSocket included).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// WebFS returns the chat page's files: index.html, app.js, sb.js (the
// Socket.IO client), style.css and favicon.svg.
func WebFS() fs.FS {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic("hub: embedded web files missing: " + err.Error()) // cannot happen: fixed at build time
	}
	return sub
}

// WebHandler returns an http.Handler serving the chat page (WebFS) with
// strict security headers. It serves only GET and HEAD, and no directory
// listings.
func WebHandler() http.Handler {
	files := http.FileServerFS(WebFS())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch r.URL.Path {
		case "/", "/index.html", "/app.js", "/sb.js", "/style.css", "/favicon.svg":
		default:
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

package server

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gofiber/fiber/v2"
)

// spaApp serves spa the way the server does, with nothing else in front.
func spaApp(spa fstest.MapFS) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(newSPA(spa).serve)
	return app
}

// mainScript stands in for the dashboard's bundle: large and repetitive, like minified JS.
func mainScript() []byte {
	var b strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&b, "function f%d(a){return a.map(x=>x*%d).filter(Boolean)}\n", i, i)
	}
	return []byte(b.String())
}

func TestSPAServesTheMainScriptGzippedToClientsThatAcceptIt(t *testing.T) {
	script := mainScript()
	app := spaApp(fstest.MapFS{
		"index.html":             {Data: []byte(`<!doctype html><script src="/assets/index-abc123.js"></script>`)},
		"assets/index-abc123.js": {Data: script},
		"assets/logo-abc123.png": {Data: []byte("\x89PNG not really")},
	})
	get := func(path, acceptEncoding string) (int, map[string]string, []byte) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		h := map[string]string{}
		for _, k := range []string{"Content-Encoding", "Vary", "Cache-Control", "Content-Type"} {
			h[k] = resp.Header.Get(k)
		}
		return resp.StatusCode, h, body
	}

	status, h, body := get("/assets/index-abc123.js", "gzip, deflate, br")
	if status != 200 || h["Content-Encoding"] != "gzip" {
		t.Fatalf("accepting gzip: status %d, Content-Encoding %q", status, h["Content-Encoding"])
	}
	if !strings.Contains(h["Vary"], "Accept-Encoding") {
		t.Errorf("Vary = %q, want Accept-Encoding", h["Vary"])
	}
	if h["Cache-Control"] != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q for a hashed asset", h["Cache-Control"])
	}
	if !strings.Contains(h["Content-Type"], "javascript") {
		t.Errorf("Content-Type = %q", h["Content-Type"])
	}
	if len(body) >= len(script)/2 {
		t.Errorf("gzipped body is %d bytes of %d: not compressed", len(body), len(script))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, script) {
		t.Fatalf("gzipped script decompresses to %d bytes that differ from the %d of the script", len(plain), len(script))
	}

	for _, ae := range []string{"", "identity", "gzip;q=0, br"} {
		status, h, body = get("/assets/index-abc123.js", ae)
		if status != 200 || h["Content-Encoding"] != "" || !bytes.Equal(body, script) {
			t.Errorf("Accept-Encoding %q: status %d, Content-Encoding %q, %d bytes; want the plain script", ae, status, h["Content-Encoding"], len(body))
		}
		if !strings.Contains(h["Vary"], "Accept-Encoding") {
			t.Errorf("Accept-Encoding %q: Vary = %q, want Accept-Encoding (a cache must not hand it the gzip form)", ae, h["Vary"])
		}
	}

	// An image is sent as it is; the SPA's other paths get index.html, not cached.
	if _, h, _ = get("/assets/logo-abc123.png", "gzip"); h["Content-Encoding"] != "" {
		t.Errorf("png: Content-Encoding %q, want none", h["Content-Encoding"])
	}
	status, h, body = get("/usage", "")
	if status != 200 || h["Cache-Control"] != "no-cache" || !strings.Contains(string(body), "index-abc123.js") {
		t.Errorf("/usage: status %d, Cache-Control %q, body %q", status, h["Cache-Control"], body)
	}
	if status, _, _ = get("/assets/gone-123.js", "gzip"); status != 404 {
		t.Errorf("missing asset: status %d, want 404", status)
	}
}

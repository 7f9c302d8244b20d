package server

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// placeholderPage is served when the binary was built without the frontend.
const placeholderPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tokenjar</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5">
<h1>tokenjar is running</h1>
<p>This binary was built without its dashboard. Build it with <code>make build</code> (which runs
<code>npm ci</code> and <code>npm run build</code> before <code>go build</code>), or use the API under
<code>/api/v1</code>: see <code>docs/api.md</code>.</p></body></html>`

// spaFile is one file of the built frontend, read once at startup, with its gzip form when
// that is worth sending (text that shrinks); gz is nil otherwise.
type spaFile struct {
	data, gz []byte
	ext      string
}

// spaFiles is the built frontend held in memory: the dashboard's script is ~435 KB and
// ~140 KB gzipped, so it is compressed once here rather than on every request.
type spaFiles struct {
	files map[string]spaFile
}

// compressible lists the extensions worth gzipping; images and fonts are compressed already.
var compressible = map[string]bool{
	".js": true, ".mjs": true, ".css": true, ".html": true, ".svg": true, ".json": true,
	".txt": true, ".map": true, ".webmanifest": true, ".xml": true,
}

// newSPA reads every file of the built frontend and gzips those that shrink by at least 10%.
// A file that cannot be read is left out (and then 404s, or falls back to index.html).
func newSPA(fsys fs.FS) *spaFiles {
	s := &spaFiles{files: map[string]spaFile{}}
	if fsys == nil {
		return s
	}
	_ = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil
		}
		f := spaFile{data: data, ext: path.Ext(name)}
		if compressible[f.ext] {
			if gz := gzipBytes(data); len(gz) < len(data)*9/10 {
				f.gz = gz
			}
		}
		s.files[name] = f
		return nil
	})
	return s
}

func gzipBytes(data []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	if _, err := w.Write(data); err != nil {
		return nil
	}
	if err := w.Close(); err != nil {
		return nil
	}
	return buf.Bytes()
}

// serve serves the built frontend: hashed assets cached forever, index.html never cached,
// and index.html for any other path so the SPA's router can take it. /api never lands here.
// A client that accepts gzip gets the compressed form of a text file.
func (s *spaFiles) serve(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return fiber.NewError(fiber.StatusMethodNotAllowed, "method not allowed")
	}
	if strings.HasPrefix(c.Path(), "/api/") || c.Path() == "/api" {
		return fiber.NewError(fiber.StatusNotFound, "no such API endpoint")
	}
	name := strings.TrimPrefix(path.Clean(c.Path()), "/")
	if name != "" && name != "index.html" {
		if f, ok := s.files[name]; ok {
			if strings.HasPrefix(name, "assets/") {
				c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
			} else {
				c.Set(fiber.HeaderCacheControl, "no-cache")
			}
			return sendSPAFile(c, f)
		}
		if strings.HasPrefix(name, "assets/") {
			return fiber.NewError(fiber.StatusNotFound, "no such asset")
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	if f, ok := s.files["index.html"]; ok {
		return sendSPAFile(c, f)
	}
	c.Type("html")
	return c.SendString(placeholderPage)
}

// sendSPAFile sends f gzipped to a client that says it accepts gzip, plain to any other.
func sendSPAFile(c *fiber.Ctx, f spaFile) error {
	c.Type(f.ext)
	if f.gz == nil {
		return c.Send(f.data)
	}
	c.Vary(fiber.HeaderAcceptEncoding)
	// No Accept-Encoding at all means "identity only" here, though Fiber would offer gzip.
	if c.Get(fiber.HeaderAcceptEncoding) != "" && c.AcceptsEncodings("gzip") == "gzip" {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(f.gz)
	}
	return c.Send(f.data)
}

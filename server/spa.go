package server

import (
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

// serveSPA serves the built frontend: hashed assets cached forever, index.html never cached,
// and index.html for any other path so the SPA's router can take it. /api never lands here.
func (s *Server) serveSPA(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return fiber.NewError(fiber.StatusMethodNotAllowed, "method not allowed")
	}
	if strings.HasPrefix(c.Path(), "/api/") || c.Path() == "/api" {
		return fiber.NewError(fiber.StatusNotFound, "no such API endpoint")
	}
	name := strings.TrimPrefix(path.Clean(c.Path()), "/")
	if name != "" && name != "index.html" {
		if data, err := fs.ReadFile(s.spa, name); err == nil {
			if strings.HasPrefix(name, "assets/") {
				c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
			} else {
				c.Set(fiber.HeaderCacheControl, "no-cache")
			}
			c.Type(path.Ext(name))
			return c.Send(data)
		}
		if strings.HasPrefix(name, "assets/") {
			return fiber.NewError(fiber.StatusNotFound, "no such asset")
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Type("html")
	if data, err := fs.ReadFile(s.spa, "index.html"); err == nil {
		return c.Send(data)
	}
	return c.SendString(placeholderPage)
}

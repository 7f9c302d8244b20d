package server

import (
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
)

// cookieRoutes are the POST routes that set the session cookie. A page on another site can
// post a form to them (text/plain or urlencoded needs no CORS preflight) and so sign the
// visitor in to an account of the attacker's choosing (login CSRF). They take JSON only, and
// when the browser names the page's origin (Origin), only from this site.
var cookieRoutes = []string{"POST /setup", "POST /auth/login", "POST /auth/code", "POST /invites/:token/accept"}

func isCookieRoute(r Route) bool { return slices.Contains(cookieRoutes, r.Method+" "+r.Path) }

// sameSiteJSON refuses a cookie route's request that is not JSON or comes from another site.
func (s *Server) sameSiteJSON(c *fiber.Ctx) error {
	ct, _, _ := strings.Cut(c.Get(fiber.HeaderContentType), ";")
	if !strings.EqualFold(strings.TrimSpace(ct), fiber.MIMEApplicationJSON) {
		return &core.Error{Code: core.EINVALID, Message: "send the body as JSON, with Content-Type: application/json", Field: "Content-Type"}
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !s.ownOrigin(c, origin) {
		return &core.Error{Code: core.EFORBIDDEN, Message: "this sign-in came from another site (Origin: " + origin + ")", Field: "Origin"}
	}
	return c.Next()
}

// ownOrigin tells whether origin names this server: the host of the configured base URL, or
// the host the request was sent to (X-Forwarded-Host when a trusted proxy sets it). Origin
// "null" (sandboxed frames, some redirects) never does.
func (s *Server) ownOrigin(c *fiber.Ctx, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	got := hostPort(u.Scheme, u.Host)
	if s.cfg.BaseURL != "" {
		if b, err := url.Parse(s.cfg.BaseURL); err == nil && b.Host != "" && strings.EqualFold(hostPort(b.Scheme, b.Host), got) {
			return true
		}
	}
	host := string(c.Request().Host())
	if s.cfg.TrustProxy {
		if fh, _, _ := strings.Cut(c.Get(fiber.HeaderXForwardedHost), ","); strings.TrimSpace(fh) != "" {
			host = strings.TrimSpace(fh)
		}
	}
	return strings.EqualFold(hostPort(u.Scheme, host), got)
}

// hostPort drops the scheme's default port, which an Origin never names and a Host may.
func hostPort(scheme, host string) string {
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return strings.TrimSuffix(host, ":80")
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return strings.TrimSuffix(host, ":443")
	}
	return host
}

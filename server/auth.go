package server

import (
	"crypto/subtle"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
)

const (
	sessionCookie = "tj_session"
	csrfCookie    = "tj_csrf"
	csrfHeader    = "X-CSRF-Token"
)

func principal(c *fiber.Ctx) (core.Principal, bool) {
	p, ok := c.Locals("principal").(core.Principal)
	return p, ok
}

// authenticate resolves the caller from a bearer token or the session cookie. Requests made
// with the cookie that change state must carry the CSRF token (double submit); bearer
// requests need none, since a browser never adds that header on its own.
func (s *Server) authenticate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		bearer, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || bearer == "" {
			return core.Errorf(core.EUNAUTHORIZED, "Authorization must be: Bearer <token>")
		}
		p, err := s.svc.AuthenticateBearer(ctx, strings.TrimSpace(bearer))
		if err != nil {
			return err
		}
		p.IP = c.IP()
		c.Locals("principal", p)
		return c.Next()
	}
	if sid := c.Cookies(sessionCookie); sid != "" {
		p, err := s.svc.AuthenticateSession(ctx, sid)
		if err != nil {
			if core.ErrorCode(err) == core.EUNAUTHORIZED {
				s.clearCookies(c)
				// Public endpoints (login, setup) still work with a stale cookie.
				return c.Next()
			}
			return err
		}
		if !safeMethod(c.Method()) {
			got := c.Get(csrfHeader)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) != 1 {
				return core.Errorf(core.EFORBIDDEN, "missing or wrong CSRF token: send the tj_csrf cookie's value in the X-CSRF-Token header")
			}
		}
		p.IP = c.IP()
		c.Locals("principal", p)
	}
	return c.Next()
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

func requireAuth(c *fiber.Ctx) error {
	if _, ok := principal(c); !ok {
		return core.Errorf(core.EUNAUTHORIZED, "sign in, or send Authorization: Bearer <token>")
	}
	return c.Next()
}

func requireMember(c *fiber.Ctx) error {
	if p, _ := principal(c); p.UserID == 0 {
		return core.Errorf(core.EFORBIDDEN, "this call is for members, not app keys")
	}
	return c.Next()
}

func requireAdmin(c *fiber.Ctx) error {
	p, _ := principal(c)
	if p.Role != core.RoleAdmin && p.Role != core.RoleOwner {
		return core.Errorf(core.EFORBIDDEN, "only admins may do this")
	}
	return c.Next()
}

func (s *Server) secure(c *fiber.Ctx) bool {
	if s.cfg.SecureCookies || c.Protocol() == "https" {
		return true
	}
	return s.cfg.TrustProxy && strings.EqualFold(c.Get(fiber.HeaderXForwardedProto), "https")
}

func (s *Server) setSessionCookies(c *fiber.Ctx, id string, sess core.Session) {
	secure := s.secure(c)
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: id, Path: "/", Expires: sess.ExpiresAt, HTTPOnly: true, SameSite: "Lax", Secure: secure})
	// The CSRF cookie is readable by the SPA, which echoes it in the X-CSRF-Token header.
	c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: sess.CSRF, Path: "/", Expires: sess.ExpiresAt, SameSite: "Lax", Secure: secure})
}

func (s *Server) clearCookies(c *fiber.Ctx) {
	past := time.Unix(0, 0)
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", Expires: past, HTTPOnly: true, SameSite: "Lax"})
	c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: "", Path: "/", Expires: past, SameSite: "Lax"})
}

package server

import (
	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
)

// household answers GET /household: who spent what over a range (from, to, scope).
func (s *Server) household(c *fiber.Ctx) error {
	p, _ := principal(c)
	h, err := s.svc.Household(c.UserContext(), p, core.UsageQuery{From: c.Query("from"), To: c.Query("to"), Scope: c.Query("scope")})
	if err != nil {
		return err
	}
	return c.JSON(h)
}

package server

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
)

// ledger serves GET /ledger: a month of the caller's ledger (or, for admins, a member's),
// whole or a page at a time (limit, cursor).
func (s *Server) ledger(c *fiber.Ctx) error {
	p, _ := principal(c)
	var member int64
	if v := c.Query("member"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return core.Invalid("member", "member must be a member id")
		}
		member = n
	}
	l, err := s.svc.Ledger(c.UserContext(), p, core.LedgerQuery{Month: c.Query("month"), Member: member, Limit: c.Query("limit"), Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	return c.JSON(l)
}

package server

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
)

func (s *Server) reportUsage(c *fiber.Ctx) error {
	if len(c.Body()) > core.MaxReportBytes {
		return core.Errorf(core.ETOOLARGE, "the body is larger than 64 KiB")
	}
	rep, err := core.ParseUsageReport(c.Body(), s.svc.Now())
	if err != nil {
		return err
	}
	p, _ := principal(c)
	res, replay, err := s.svc.ChargeUsage(c.UserContext(), p, rep)
	if err != nil {
		return err
	}
	if replay {
		return c.Status(fiber.StatusOK).JSON(res)
	}
	return c.Status(fiber.StatusCreated).JSON(res)
}

func usageQuery(c *fiber.Ctx) core.UsageQuery {
	return core.UsageQuery{From: c.Query("from"), To: c.Query("to"), App: c.Query("app"), Model: c.Query("model"),
		Provider: c.Query("provider"), UsageType: c.Query("usageType"), Project: c.Query("project"), Source: c.Query("source"),
		Modality: c.Query("modality"), Member: c.Query("member"), Limit: c.Query("limit"), Cursor: c.Query("cursor"),
		Sort: c.Query("sort"), By: c.Query("by"), Scope: c.Query("scope")}
}

func (s *Server) listUsage(c *fiber.Ctx) error {
	p, _ := principal(c)
	page, err := s.svc.ListUsage(c.UserContext(), p, usageQuery(c), false)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) grantedUsage(c *fiber.Ctx) error {
	p, _ := principal(c)
	page, err := s.svc.ListUsage(c.UserContext(), p, usageQuery(c), true)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) aggregate(c *fiber.Ctx) error {
	p, _ := principal(c)
	agg, err := s.svc.Aggregate(c.UserContext(), p, usageQuery(c))
	if err != nil {
		return err
	}
	return c.JSON(agg)
}

func (s *Server) facets(c *fiber.Ctx) error {
	p, _ := principal(c)
	var granted bool
	switch c.Query("scope") {
	case "", "own":
	case "granted":
		granted = true
	default:
		return core.Invalid("scope", "scope must be own or granted")
	}
	f, err := s.svc.Facets(c.UserContext(), p, granted)
	if err != nil {
		return err
	}
	return c.JSON(f)
}

func (s *Server) getUsage(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	d, err := s.svc.GetUsage(c.UserContext(), p, id)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) refund(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	rows, err := s.svc.Refund(c.UserContext(), p, id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ledger": rows})
}

func (s *Server) balance(c *fiber.Ctx) error {
	p, _ := principal(c)
	var uid int64
	if v := c.Query("userId"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return core.Invalid("userId", "userId must be a member id")
		}
		uid = n
	}
	b, err := s.svc.Balance(c.UserContext(), p, uid, c.Query("userEmail"))
	if err != nil {
		return err
	}
	return c.JSON(b)
}

func (s *Server) exportGrantedUsage(c *fiber.Ctx) error {
	return s.export(c, true)
}

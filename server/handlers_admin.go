package server

import (
	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
)

func (s *Server) createApp(c *fiber.Ctx) error {
	var in struct {
		Name, Slug   string
		NamesMembers bool // its keys may name the member each AI gateway request bills
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	a, err := s.svc.CreateApp(c.UserContext(), p, in.Name, in.Slug)
	if err != nil {
		return err
	}
	if in.NamesMembers {
		if err := s.svc.SetAppNamesMembers(c.UserContext(), p, a.ID, true); err != nil {
			return err
		}
		a.NamesMembers = true
	}
	return c.Status(fiber.StatusCreated).JSON(a)
}

func (s *Server) updateApp(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Name         *string
		Disabled     *bool
		NamesMembers *bool
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	if in.NamesMembers != nil {
		if err := s.svc.SetAppNamesMembers(c.UserContext(), p, id, *in.NamesMembers); err != nil {
			return err
		}
	}
	a, err := s.svc.UpdateApp(c.UserContext(), p, id, in.Name, in.Disabled)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) createAppKey(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct{ DelegationID int64 }
	if len(c.Body()) > 0 {
		if err := bind(c, &in); err != nil {
			return err
		}
	}
	p, _ := principal(c)
	k, err := s.svc.CreateAppKey(c.UserContext(), p, id, in.DelegationID)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": k.ID, "prefix": k.Prefix, "key": k.Token})
}

func (s *Server) revokeAppKey(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	keyID, err := idParam(c, "keyId")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.RevokeAppKey(c.UserContext(), p, id, keyID); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

func (s *Server) listMembers(c *fiber.Ctx) error {
	p, _ := principal(c)
	items, err := s.svc.ListMembers(c.UserContext(), p, c.Query("group"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) createMember(c *fiber.Ctx) error {
	var in struct{ Email, Name, Password, Role string }
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	m, err := s.svc.CreateMember(c.UserContext(), p, core.NewMember{Email: in.Email, Name: in.Name, Password: in.Password, Role: in.Role})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

func (s *Server) updateMember(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Name, Role, Group *string
		Disabled          *bool
		// The AI gateway: the member's allowed models (`*` globs; []: any) and requests per
		// minute (0: no limit).
		AllowedModels     *[]string
		RequestsPerMinute *int64
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	var gw *core.MemberGatewayAccess
	if in.AllowedModels != nil || in.RequestsPerMinute != nil {
		g, err := s.svc.SetMemberGatewayAccess(c.UserContext(), p, id, in.AllowedModels, in.RequestsPerMinute)
		if err != nil {
			return err
		}
		gw = &g
	}
	m, err := s.svc.UpdateMember(c.UserContext(), p, id, core.MemberUpdate{Name: in.Name, Role: in.Role, Disabled: in.Disabled, Group: in.Group})
	if err != nil {
		return err
	}
	if gw != nil {
		return c.JSON(struct {
			core.Member
			core.MemberGatewayAccess
		}{m, *gw})
	}
	return c.JSON(m)
}

func (s *Server) setPlan(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct{ MonthlyCredits jsonNumber }
	if err := bind(c, &in); err != nil {
		return err
	}
	monthly, err := credits("monthlyCredits", in.MonthlyCredits, true)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	m, err := s.svc.SetPlan(c.UserContext(), p, id, monthly, c.Query("now") == "true")
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (s *Server) grant(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Kind, ExpiresAt, Note string
		Credits               jsonNumber
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	if in.Kind == "" {
		return core.Invalid("kind", "kind is required: subscription, addon or event")
	}
	amount, err := credits("credits", in.Credits, true)
	if err != nil {
		return err
	}
	exp, err := optTime("expiresAt", in.ExpiresAt, s.svc.Settings().Location)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	res, err := s.svc.Grant(c.UserContext(), p, id, core.NewGrant{Kind: in.Kind, Credits: amount, ExpiresAt: exp, Note: in.Note})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(res)
}

func (s *Server) importMembers(c *fiber.Ctx) error {
	var in struct {
		CSV     string
		Members []core.ImportRow
		Group   string
		Role    string
		Codes   bool
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	items, err := s.svc.ImportMembers(c.UserContext(), p, core.ClassImport{CSV: in.CSV, Members: in.Members, Group: in.Group, Role: in.Role, Codes: in.Codes,
		BaseURL: s.baseURL(c)})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"items": items})
}

func (s *Server) newSigninCode(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	code, err := s.svc.NewSigninCode(c.UserContext(), p, id)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(code)
}

func (s *Server) auditLog(c *fiber.Ctx) error {
	p, _ := principal(c)
	page, err := s.svc.Audit(c.UserContext(), p, c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) jobs(c *fiber.Ctx) error {
	items, err := s.svc.JobStatus(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) resetPassword(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Password     string
		RevokeTokens bool
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.ResetPassword(c.UserContext(), p, id, in.Password, in.RevokeTokens); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

func (s *Server) createInvite(c *fiber.Ctx) error {
	var in struct {
		Email, Role, ExpiresAt, Note string
		MonthlyCredits               jsonNumber
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	ni := core.NewInvite{Email: in.Email, Role: in.Role, Note: in.Note}
	if in.MonthlyCredits != "" {
		v, err := credits("monthlyCredits", in.MonthlyCredits, true)
		if err != nil {
			return err
		}
		ni.MonthlyCredits = &v
	}
	exp, err := optTime("expiresAt", in.ExpiresAt, s.svc.Settings().Location)
	if err != nil {
		return err
	}
	ni.ExpiresAt = exp
	p, _ := principal(c)
	inv, err := s.svc.CreateInvite(c.UserContext(), p, ni, s.baseURL(c))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(inv)
}

func (s *Server) getInvite(c *fiber.Ctx) error {
	inv, err := s.svc.Invite(c.UserContext(), c.Params("token"))
	if err != nil {
		return err
	}
	return c.JSON(inv)
}

func (s *Server) acceptInvite(c *fiber.Ctx) error {
	var in struct{ Email, Name, Password string }
	if err := bind(c, &in); err != nil {
		return err
	}
	m, sid, sess, err := s.svc.AcceptInvite(c.UserContext(), c.Params("token"), in.Email, in.Name, in.Password)
	if err != nil {
		return err
	}
	s.setSessionCookies(c, sid, sess)
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"user": m})
}

func (s *Server) listProviders(c *fiber.Ctx) error {
	items, err := s.svc.Providers(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) putProvider(c *fiber.Ctx) error {
	var in core.ProviderInput
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.SetProvider(c.UserContext(), p, c.Params("provider"), in); err != nil {
		return err
	}
	return s.listProviders(c)
}

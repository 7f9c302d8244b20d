package server

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
)

// bind decodes a JSON body, naming the field when a value has the wrong type.
func bind(c *fiber.Ctx, dst any) error {
	body := c.Body()
	if len(strings.TrimSpace(string(body))) == 0 {
		return core.Invalid("body", "the body must be a JSON object")
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return core.Invalid(te.Field, "%s must be a %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return core.Invalid("body", "the body must be a JSON object")
	}
	return nil
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "bool":
		return "boolean"
	case k == "ptr", k == "struct", k == "map":
		return "object"
	}
	return k
}

func credits(field string, n json.Number, required bool) (core.Credits, error) {
	if n == "" {
		if required {
			return 0, core.Invalid(field, "%s is required", field)
		}
		return 0, nil
	}
	v, ok := core.ParseCredits(string(n))
	if !ok {
		return 0, core.Invalid(field, "%s must be a decimal number ≥ 0", field)
	}
	return v, nil
}

func optTime(field, v string, loc *time.Location) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return &t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, loc); err == nil {
		return &t, nil
	}
	return nil, core.Invalid(field, "%s must be RFC 3339 or YYYY-MM-DD", field)
}

func idParam(c *fiber.Ctx, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, core.Errorf(core.ENOTFOUND, "no such %s", name)
	}
	return id, nil
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"ok": true, "version": s.cfg.Version})
}

func (s *Server) getSetup(c *fiber.Ctx) error {
	needed, err := s.svc.SetupNeeded(c.UserContext())
	if err != nil {
		return err
	}
	// The instance name is shown on the sign-in page, before anyone is signed in.
	return c.JSON(fiber.Map{"needed": needed, "instanceName": s.svc.Settings().InstanceName})
}

func (s *Server) postSetup(c *fiber.Ctx) error {
	var in struct {
		Email, Name, Password, InstanceName, TimeZone string
		CreditsPerUSD                                 json.Number
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	upd := core.SettingsUpdate{}
	if in.InstanceName != "" {
		upd.InstanceName = &in.InstanceName
	}
	if in.TimeZone != "" {
		upd.TimeZone = &in.TimeZone
	}
	if in.CreditsPerUSD != "" {
		v := string(in.CreditsPerUSD)
		upd.CreditsPerUSD = &v
	}
	res, err := s.svc.Setup(c.UserContext(), core.NewMember{Email: in.Email, Name: in.Name, Password: in.Password}, upd)
	if err != nil {
		return err
	}
	if id, sess, err := s.svc.OpenSessionFor(c.UserContext(), res.User.ID); err == nil {
		s.setSessionCookies(c, id, sess)
	}
	return c.Status(fiber.StatusCreated).JSON(res)
}

func (s *Server) login(c *fiber.Ctx) error {
	var in struct{ Email, Password string }
	if err := bind(c, &in); err != nil {
		return err
	}
	m, id, sess, err := s.svc.Login(c.UserContext(), in.Email, in.Password, c.IP())
	if err != nil {
		return err
	}
	s.setSessionCookies(c, id, sess)
	return c.JSON(fiber.Map{"user": m})
}

func (s *Server) logout(c *fiber.Ctx) error {
	if p, ok := principal(c); ok {
		if err := s.svc.Logout(c.UserContext(), p); err != nil {
			return err
		}
	}
	s.clearCookies(c)
	return c.JSON(fiber.Map{})
}

func (s *Server) me(c *fiber.Ctx) error {
	p, _ := principal(c)
	if p.Via == core.ViaAppKey {
		return c.JSON(fiber.Map{"appId": p.AppID, "role": "app"})
	}
	m, err := s.svc.Me(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": m.ID, "email": m.Email, "name": m.Name, "role": m.Role})
}

func (s *Server) getSettings(c *fiber.Ctx) error {
	return c.JSON(s.svc.SettingsView())
}

func (s *Server) putSettings(c *fiber.Ctx) error {
	var in struct {
		InstanceName, TimeZone *string
		CreditsPerUSD          *json.Number
		SignupDomains          *[]string
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	upd := core.SettingsUpdate{InstanceName: in.InstanceName, TimeZone: in.TimeZone, SignupDomains: in.SignupDomains}
	if in.CreditsPerUSD != nil {
		v := string(*in.CreditsPerUSD)
		upd.CreditsPerUSD = &v
	}
	p, _ := principal(c)
	if _, err := s.svc.UpdateSettings(c.UserContext(), p, upd); err != nil {
		return err
	}
	return c.JSON(s.svc.SettingsView())
}

func (s *Server) createToken(c *fiber.Ctx) error {
	var in struct {
		Name         string
		DelegationID int64
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	t, err := s.svc.CreateToken(c.UserContext(), p, in.Name, in.DelegationID)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(t)
}

func (s *Server) listTokens(c *fiber.Ctx) error {
	p, _ := principal(c)
	items, err := s.svc.ListTokens(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) revokeToken(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.RevokeToken(c.UserContext(), p, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

func (s *Server) listApps(c *fiber.Ctx) error {
	p, _ := principal(c)
	items, err := s.svc.ListApps(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) createApp(c *fiber.Ctx) error {
	var in struct{ Name, Slug string }
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	a, err := s.svc.CreateApp(c.UserContext(), p, in.Name, in.Slug)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(a)
}

func (s *Server) updateApp(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Name     *string
		Disabled *bool
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
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
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	m, err := s.svc.UpdateMember(c.UserContext(), p, id, core.MemberUpdate{Name: in.Name, Role: in.Role, Disabled: in.Disabled, Group: in.Group})
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (s *Server) setPlan(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct{ MonthlyCredits json.Number }
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
		Credits               json.Number
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
	l, err := s.svc.Ledger(c.UserContext(), p, c.Query("month"), member)
	if err != nil {
		return err
	}
	return c.JSON(l)
}

// delegationBody is the JSON of a new delegation (single or bulk).
type delegationBody struct {
	GranteeEmail, Period, StartsAt, EndsAt, Note string
	GranteeID                                    int64
	Credits                                      json.Number
	Apps                                         []json.RawMessage
	Models                                       []string
	GranteeIDs                                   []int64
	GranteeEmails                                []string
	Group                                        string
}

func (s *Server) newDelegation(in delegationBody) (core.NewDelegation, error) {
	amount, err := credits("credits", in.Credits, true)
	if err != nil {
		return core.NewDelegation{}, err
	}
	loc := s.svc.Settings().Location
	starts, err := optTime("startsAt", in.StartsAt, loc)
	if err != nil {
		return core.NewDelegation{}, err
	}
	ends, err := optTime("endsAt", in.EndsAt, loc)
	if err != nil {
		return core.NewDelegation{}, err
	}
	apps, err := appRefs(in.Apps)
	if err != nil {
		return core.NewDelegation{}, err
	}
	return core.NewDelegation{GranteeID: in.GranteeID, GranteeEmail: in.GranteeEmail, Credits: amount, Period: in.Period,
		StartsAt: starts, EndsAt: ends, Note: in.Note, Apps: apps, Models: in.Models}, nil
}

// appRefs accepts app ids (numbers) or slugs (strings).
func appRefs(raw []json.RawMessage) ([]string, error) {
	var out []string
	for _, r := range raw {
		var s string
		if json.Unmarshal(r, &s) == nil {
			out = append(out, s)
			continue
		}
		var n int64
		if json.Unmarshal(r, &n) != nil || n <= 0 {
			return nil, core.Invalid("apps", "apps must list app ids or slugs")
		}
		out = append(out, strconv.FormatInt(n, 10))
	}
	return out, nil
}

func (s *Server) createDelegation(c *fiber.Ctx) error {
	var in delegationBody
	if err := bind(c, &in); err != nil {
		return err
	}
	nd, err := s.newDelegation(in)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	d, err := s.svc.CreateDelegation(c.UserContext(), p, nd)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(d)
}

func (s *Server) createDelegations(c *fiber.Ctx) error {
	var in delegationBody
	if err := bind(c, &in); err != nil {
		return err
	}
	nd, err := s.newDelegation(in)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	items, err := s.svc.CreateDelegations(c.UserContext(), p, core.BulkDelegation{NewDelegation: nd,
		GranteeIDs: in.GranteeIDs, GranteeEmails: in.GranteeEmails, Group: in.Group})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"items": items})
}

func (s *Server) editDelegation(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Credits *json.Number
		Period  *string
		EndsAt  *string
		Note    *string
		Apps    *[]json.RawMessage
		Models  *[]string
		Status  *string
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	e := core.DelegationEdit{Period: in.Period, Note: in.Note, Models: in.Models, Status: in.Status}
	if in.Credits != nil {
		v, err := credits("credits", *in.Credits, true)
		if err != nil {
			return err
		}
		e.Credits = &v
	}
	if in.EndsAt != nil {
		if *in.EndsAt == "" {
			e.ClearEnds = true
		} else if e.EndsAt, err = optTime("endsAt", *in.EndsAt, s.svc.Settings().Location); err != nil {
			return err
		}
	}
	if in.Apps != nil {
		apps, err := appRefs(*in.Apps)
		if err != nil {
			return err
		}
		if apps == nil {
			apps = []string{}
		}
		e.Apps = &apps
	}
	p, _ := principal(c)
	d, err := s.svc.EditDelegation(c.UserContext(), p, id, e)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) exportGrantedUsage(c *fiber.Ctx) error {
	return s.export(c, true)
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
	items, err := s.svc.ImportMembers(c.UserContext(), p, core.ClassImport{CSV: in.CSV, Members: in.Members, Group: in.Group, Role: in.Role, Codes: in.Codes})
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

func (s *Server) loginWithCode(c *fiber.Ctx) error {
	var in struct{ Code string }
	if err := bind(c, &in); err != nil {
		return err
	}
	m, id, sess, err := s.svc.LoginWithCode(c.UserContext(), in.Code, c.IP())
	if err != nil {
		return err
	}
	s.setSessionCookies(c, id, sess)
	return c.JSON(fiber.Map{"user": m})
}

func (s *Server) auditLog(c *fiber.Ctx) error {
	p, _ := principal(c)
	page, err := s.svc.Audit(c.UserContext(), p, c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) listDelegations(c *fiber.Ctx) error {
	p, _ := principal(c)
	given, received, err := s.svc.Delegations(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"given": given, "received": received})
}

func (s *Server) revokeDelegation(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.RevokeDelegation(c.UserContext(), p, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

func (s *Server) jobs(c *fiber.Ctx) error {
	items, err := s.svc.JobStatus(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) logoutAll(c *fiber.Ctx) error {
	p, _ := principal(c)
	if err := s.svc.LogoutAll(c.UserContext(), p); err != nil {
		return err
	}
	if p.Via == core.ViaSession {
		s.clearCookies(c)
	}
	return c.JSON(fiber.Map{})
}

func (s *Server) identities(c *fiber.Ctx) error {
	p, _ := principal(c)
	items, err := s.svc.Identities(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) unlinkIdentity(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.UnlinkIdentity(c.UserContext(), p, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

func (s *Server) changePassword(c *fiber.Ctx) error {
	var in struct{ Current, Password string }
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.ChangePassword(c.UserContext(), p, in.Current, in.Password); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

func (s *Server) resetPassword(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct{ Password string }
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.ResetPassword(c.UserContext(), p, id, in.Password); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

func (s *Server) createInvite(c *fiber.Ctx) error {
	var in struct {
		Email, Role, ExpiresAt, Note string
		MonthlyCredits               json.Number
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

func (s *Server) listInvites(c *fiber.Ctx) error {
	p, _ := principal(c)
	items, err := s.svc.ListInvites(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) revokeInvite(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.RevokeInvite(c.UserContext(), p, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
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

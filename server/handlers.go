package server

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
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
		return bindError(body, dst)
	}
	return nil
}

// bindError names the field a body failed on as the client spelled it. encoding/json names
// the Go field (GranteeID for granteeId), or nothing at all for a bad number, so each of the
// body's keys is decoded alone until one fails.
func bindError(body []byte, dst any) error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil || fields == nil {
		return core.Invalid("body", "the body must be a JSON object")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		err := json.Unmarshal(one, reflect.New(reflect.TypeOf(dst).Elem()).Interface())
		if err == nil {
			continue
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return core.Invalid(k, "%s must be a %s", k, jsonKind(te.Type.Kind().String()))
		}
		return core.Invalid(k, "%s must be a number", k) // json.Number refuses what is not one
	}
	return core.Invalid("body", "the body must be a JSON object")
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "bool":
		return "boolean"
	case k == "slice", k == "array":
		return "list"
	case k == "ptr", k == "struct", k == "map":
		return "object"
	}
	return k
}

// listHandler answers {items} from a domain list method.
func listHandler[T any](list func(context.Context, core.Principal) ([]T, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, _ := principal(c)
		items, err := list(c.UserContext(), p)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"items": items})
	}
}

// byIDHandler calls a domain method on the :id in the path and answers {}.
func byIDHandler(do func(context.Context, core.Principal, int64) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := idParam(c, "id")
		if err != nil {
			return err
		}
		p, _ := principal(c)
		if err := do(c.UserContext(), p, id); err != nil {
			return err
		}
		return c.JSON(fiber.Map{})
	}
}

func credits(field string, n jsonNumber, required bool) (core.Credits, error) {
	if n == "" {
		if required {
			return 0, core.Invalid(field, "%s is required", field)
		}
		return 0, nil
	}
	v, ok := core.ParseCredits(string(n))
	if !ok {
		return 0, core.Invalid(field, "%s must be a number of credits from 0 to 1000000000 with at most 3 decimals", field)
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
		CreditsPerUSD                                 jsonNumber
		MonthlyCredits, TopUpCredits                  jsonNumber
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	var start core.StartingCredits
	var err error
	if start.MonthlyCredits, err = credits("monthlyCredits", in.MonthlyCredits, false); err != nil {
		return err
	}
	if start.TopUpCredits, err = credits("topUpCredits", in.TopUpCredits, false); err != nil {
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
	res, err := s.svc.SetupWith(c.UserContext(), core.NewMember{Email: in.Email, Name: in.Name, Password: in.Password}, upd, start)
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
	m, id, sess, err := s.svc.Login(c.UserContext(), in.Email, in.Password, s.signinAddress(c))
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
		CreditsPerUSD          *jsonNumber
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

// delegationBody is the JSON of a new delegation (single or bulk).
// appRefs accepts app ids (numbers) or slugs (strings).
func (s *Server) loginWithCode(c *fiber.Ctx) error {
	var in struct{ Code string }
	if err := bind(c, &in); err != nil {
		return err
	}
	m, id, sess, err := s.svc.LoginWithCode(c.UserContext(), in.Code, s.signinAddress(c))
	if err != nil {
		return err
	}
	s.setSessionCookies(c, id, sess)
	return c.JSON(fiber.Map{"user": m})
}

func (s *Server) logoutAll(c *fiber.Ctx) error {
	// The body is optional: {"revokeTokens": true} also revokes every personal token.
	var in struct{ RevokeTokens bool }
	if len(strings.TrimSpace(string(c.Body()))) > 0 {
		if err := bind(c, &in); err != nil {
			return err
		}
	}
	p, _ := principal(c)
	if err := s.svc.LogoutAll(c.UserContext(), p, in.RevokeTokens); err != nil {
		return err
	}
	if p.Via == core.ViaSession {
		s.clearCookies(c)
	}
	return c.JSON(fiber.Map{})
}

func (s *Server) changePassword(c *fiber.Ctx) error {
	var in struct {
		Current, Password string
		RevokeTokens      bool
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.ChangePassword(c.UserContext(), p, in.Current, in.Password, in.RevokeTokens); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

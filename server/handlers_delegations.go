package server

import (
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
)

type delegationBody struct {
	GranteeEmail, Period, StartsAt, EndsAt, Note string
	GranteeID                                    int64
	Credits                                      jsonNumber
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

// editBody is what an edit of an allowance may change; absent fields stay.
type editBody struct {
	Credits *jsonNumber
	Period  *string
	EndsAt  *string
	Note    *string
	Apps    *[]json.RawMessage
	Models  *[]string
	Status  *string
}

func (s *Server) delegationEdit(in editBody) (core.DelegationEdit, error) {
	e := core.DelegationEdit{Period: in.Period, Note: in.Note, Models: in.Models, Status: in.Status}
	if in.Credits != nil {
		v, err := credits("credits", *in.Credits, true)
		if err != nil {
			return e, err
		}
		e.Credits = &v
	}
	if in.EndsAt != nil {
		var err error
		if *in.EndsAt == "" {
			e.ClearEnds = true
		} else if e.EndsAt, err = optTime("endsAt", *in.EndsAt, s.svc.Settings().Location); err != nil {
			return e, err
		}
	}
	if in.Apps != nil {
		apps, err := appRefs(*in.Apps)
		if err != nil {
			return e, err
		}
		if apps == nil {
			apps = []string{}
		}
		e.Apps = &apps
	}
	return e, nil
}

func (s *Server) editDelegation(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in editBody
	if err := bind(c, &in); err != nil {
		return err
	}
	e, err := s.delegationEdit(in)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	d, err := s.svc.EditDelegation(c.UserContext(), p, id, e)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// updateDelegations pauses, resumes, revokes or edits many allowances in one transaction.
func (s *Server) updateDelegations(c *fiber.Ctx) error {
	var in struct {
		IDs    []int64
		Group  string
		Action string
		Fields *editBody
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	b := core.BulkDelegationUpdate{IDs: in.IDs, Group: in.Group, Action: in.Action}
	if in.Fields != nil {
		if in.Fields.Status != nil {
			return core.Invalid("fields.status", "pause or resume with action, not a status field")
		}
		e, err := s.delegationEdit(*in.Fields)
		if err != nil {
			return err
		}
		b.Edit = e
	}
	p, _ := principal(c)
	items, err := s.svc.UpdateDelegations(c.UserContext(), p, b)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) listDelegations(c *fiber.Ctx) error {
	p, _ := principal(c)
	given, received, err := s.svc.Delegations(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"given": given, "received": received})
}

// grantedAssignments answers the student × assignment table of the caller's allowances.
func (s *Server) grantedAssignments(c *fiber.Ctx) error {
	p, _ := principal(c)
	t, err := s.svc.GrantedAssignments(c.UserContext(), p, core.UsageQuery{From: c.Query("from"), To: c.Query("to")})
	if err != nil {
		return err
	}
	return c.JSON(t)
}

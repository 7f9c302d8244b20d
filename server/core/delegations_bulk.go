package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"tokenjar/db"
)

// BulkDelegationUpdate pauses, resumes, revokes or edits many of the caller's allowances at
// once: those named by id, or every current allowance the caller gives to a group's members.
type BulkDelegationUpdate struct {
	IDs    []int64
	Group  string
	Action string // pause, resume, revoke or edit
	Edit   DelegationEdit
}

// bulkActions are the actions UpdateDelegations takes.
var bulkActions = map[string]bool{"pause": true, "resume": true, "revoke": true, "edit": true}

// UpdateDelegations changes every allowance b names in one transaction: all of them, or none
// with an error that names the allowance at fault.
func (s *Service) UpdateDelegations(ctx context.Context, p Principal, b BulkDelegationUpdate) ([]DelegationInfo, error) {
	if err := p.requireUser(); err != nil {
		return nil, err
	}
	if !bulkActions[b.Action] {
		return nil, Invalid("action", "action must be pause, resume, revoke or edit")
	}
	now := s.clock.Now()
	e := b.Edit
	switch b.Action {
	case "pause", "resume":
		status := map[string]string{"pause": "paused", "resume": "active"}[b.Action]
		e = DelegationEdit{Status: &status}
	case "edit":
		if e == (DelegationEdit{}) {
			return nil, Invalid("fields", "say what to change: credits, period, endsAt, note, apps or models")
		}
	}
	checked, err := s.checkEdit(ctx, e, now)
	if err != nil {
		return nil, err
	}
	ids, fields, err := s.bulkTargets(ctx, p, b)
	if err != nil {
		return nil, err
	}
	var out []DelegationInfo
	err = s.db.Update(ctx, func(c *db.Conn) error {
		out = make([]DelegationInfo, 0, len(ids))
		for i, id := range ids {
			d, err := givenDelegation(ctx, c, p, id)
			var coded *Error
			if errors.As(err, &coded) {
				return Invalid(fields[i], "allowance %d: %s", id, coded.Message)
			}
			if err != nil {
				return err
			}
			if err := s.bulkApply(ctx, c, d, b.Action, checked, now, fields[i]); err != nil {
				return err
			}
			info, err := s.storedInfo(ctx, c, id)
			if err != nil {
				return err
			}
			out = append(out, info)
		}
		return nil
	})
	return out, err
}

// bulkApply takes one allowance's part of a bulk update.
func (s *Service) bulkApply(ctx context.Context, c *db.Conn, d db.Delegation, action string, e checkedEdit, now time.Time, field string) error {
	if d.Status == "revoked" {
		if action == "revoke" {
			return nil
		}
		return Invalid(field, "the allowance for %s (%d) is revoked; give a new one instead", d.GranteeName, d.ID)
	}
	if action == "revoke" {
		return c.RevokeDelegation(ctx, d.ID, ms(now))
	}
	return s.applyEdit(ctx, c, d, e, now)
}

// bulkTargets lists the allowances a bulk update names, each with the request field that
// named it (for errors): ids[i], or group.
func (s *Service) bulkTargets(ctx context.Context, p Principal, b BulkDelegationUpdate) ([]int64, []string, error) {
	var ids []int64
	var fields []string
	for i, id := range b.IDs {
		if id <= 0 {
			return nil, nil, Invalid(fmt.Sprintf("ids[%d]", i), "ids must be allowance ids")
		}
		if !slices.Contains(ids, id) {
			ids, fields = append(ids, id), append(fields, fmt.Sprintf("ids[%d]", i))
		}
	}
	if g := strings.TrimSpace(b.Group); g != "" {
		r := s.db.Read()
		members, err := r.UserIDsInGroup(ctx, g)
		if err != nil {
			return nil, nil, err
		}
		given, err := r.DelegationsGiven(ctx, p.UserID)
		if err != nil {
			return nil, nil, err
		}
		n := 0
		for _, d := range given {
			// Revoked ones are history: a group's update leaves them.
			if d.Status != "revoked" && slices.Contains(members, d.GranteeID) && !slices.Contains(ids, d.ID) {
				ids, fields = append(ids, d.ID), append(fields, "group")
				n++
			}
		}
		if n == 0 {
			return nil, nil, Invalid("group", "you give no current allowance to a member of group %q", g)
		}
	}
	if len(ids) == 0 {
		return nil, nil, Invalid("ids", "name the allowances: ids or group")
	}
	if len(ids) > 2000 {
		return nil, nil, Invalid("ids", "at most 2,000 allowances at once")
	}
	return ids, fields, nil
}

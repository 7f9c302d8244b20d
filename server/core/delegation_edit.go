package core

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"tokenjar/db"
)

// DelegationEdit changes a delegation; nil fields stay. Credits and period apply from the
// next period; the rest at once.
type DelegationEdit struct {
	Credits   *Credits
	Period    *string
	EndsAt    *time.Time
	ClearEnds bool
	Note      *string
	Apps      *[]string
	Models    *[]string
	Status    *string
}

// checkedEdit is an edit whose fields were validated, with its restrictions as stored JSON.
type checkedEdit struct {
	DelegationEdit
	apps, models *string
}

// checkEdit validates an edit's fields before anything is read or written.
func (s *Service) checkEdit(ctx context.Context, e DelegationEdit, now time.Time) (checkedEdit, error) {
	out := checkedEdit{DelegationEdit: e}
	if e.Credits != nil && *e.Credits <= 0 {
		return out, Invalid("credits", "credits must be greater than 0")
	}
	if e.Period != nil && !periods[*e.Period] {
		return out, Invalid("period", "period must be day, week, month or once")
	}
	if e.Status != nil && *e.Status != "active" && *e.Status != "paused" {
		return out, Invalid("status", "status must be active or paused; revoke with DELETE")
	}
	if e.EndsAt != nil && !e.EndsAt.After(now) {
		return out, Invalid("endsAt", "endsAt must be in the future")
	}
	if e.Note != nil && len(strings.TrimSpace(*e.Note)) > 200 {
		return out, Invalid("note", "note must be at most 200 characters")
	}
	if e.Apps != nil {
		a, _, err := s.restrictions(ctx, *e.Apps, nil)
		if err != nil {
			return out, err
		}
		out.apps = &a
	}
	if e.Models != nil {
		_, m, err := s.restrictions(ctx, nil, *e.Models)
		if err != nil {
			return out, err
		}
		out.models = &m
	}
	return out, nil
}

// givenDelegation reads a delegation the caller granted, for a change.
func givenDelegation(ctx context.Context, c *db.Conn, p Principal, id int64) (db.Delegation, error) {
	d, err := c.DelegationByID(ctx, id)
	if errors.Is(err, db.ErrNotFound) || (err == nil && d.GranterID != p.UserID && d.GranteeID != p.UserID) {
		return d, Errorf(ENOTFOUND, "no such allowance")
	}
	if err != nil {
		return d, err
	}
	if d.GranterID != p.UserID {
		return d, Errorf(EFORBIDDEN, "only the granter can change a delegation")
	}
	return d, nil
}

// applyEdit changes d as e says and stores it. Credits and period wait for the next period
// when one is running.
func (s *Service) applyEdit(ctx context.Context, c *db.Conn, d db.Delegation, e checkedEdit, now time.Time) error {
	d, _ = currentTerms(d, now)
	if e.Credits != nil || e.Period != nil {
		credits, period := d.Credits, d.Period
		if e.Credits != nil {
			credits = int64(*e.Credits)
		}
		if e.Period != nil {
			period = *e.Period
		}
		end := periodEnd(d.Period, now, s.Settings().Location)
		if d.Period == "once" || end.IsZero() || ms(now) < d.StartsAt {
			// No period running (a one-off total, or not started): the change applies now.
			if period != d.Period {
				d.PeriodKey, d.PeriodUsed = -1, 0
			}
			d.Credits, d.Period = credits, period
			d.PendingCredits, d.PendingPeriod, d.PendingFrom = sql.NullInt64{}, sql.NullString{}, sql.NullInt64{}
		} else {
			d.PendingCredits = sql.NullInt64{Int64: credits, Valid: true}
			d.PendingPeriod = sql.NullString{String: period, Valid: true}
			d.PendingFrom = sql.NullInt64{Int64: ms(end), Valid: true}
		}
	}
	if e.ClearEnds {
		d.EndsAt = sql.NullInt64{}
	} else if e.EndsAt != nil {
		d.EndsAt = sql.NullInt64{Int64: ms(*e.EndsAt), Valid: true}
	}
	if e.Note != nil {
		d.Note = strings.TrimSpace(*e.Note)
	}
	if e.apps != nil {
		d.Apps = *e.apps
	}
	if e.models != nil {
		d.Models = *e.models
	}
	if e.Status != nil {
		d.Status = *e.Status
	}
	return c.UpdateDelegationTerms(ctx, d)
}

// EditDelegation lets the granter change, pause or resume a delegation.
func (s *Service) EditDelegation(ctx context.Context, p Principal, id int64, e DelegationEdit) (DelegationInfo, error) {
	if err := p.requireUser(); err != nil {
		return DelegationInfo{}, err
	}
	now := s.clock.Now()
	ce, err := s.checkEdit(ctx, e, now)
	if err != nil {
		return DelegationInfo{}, err
	}
	var out DelegationInfo
	err = s.db.Update(ctx, func(c *db.Conn) error {
		d, err := givenDelegation(ctx, c, p, id)
		if err != nil {
			return err
		}
		if d.Status == "revoked" {
			return Errorf(ECONFLICT, "this allowance is revoked; create a new one")
		}
		if err := s.applyEdit(ctx, c, d, ce, now); err != nil {
			return err
		}
		out, err = s.storedInfo(ctx, c, id)
		return err
	})
	return out, err
}

// storedInfo reads a delegation back after a write, as the API shows it.
func (s *Service) storedInfo(ctx context.Context, c *db.Conn, id int64) (DelegationInfo, error) {
	stored, err := c.DelegationByID(ctx, id)
	if err != nil {
		return DelegationInfo{}, err
	}
	return s.delegationInfo(ctx, c, stored), nil
}

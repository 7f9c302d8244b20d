package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"tokenjar/db"
)

// Delegation periods.
var periods = map[string]bool{"day": true, "week": true, "month": true, "once": true}

// periodKey names the allowance period that holds t: a day number, the day number of the
// week's Monday, YYYYMM, or 0 for a one-off total.
func periodKey(period string, t time.Time, loc *time.Location) int64 {
	switch period {
	case "day":
		return DayOf(t, loc)
	case "week":
		day := DayOf(t, loc)
		wd := int64(t.In(loc).Weekday()+6) % 7 // Monday = 0
		return day - wd
	case "month":
		return CycleAt(t, loc).Key
	default:
		return 0
	}
}

// periodEnd is when the period holding t ends (zero for a one-off total).
func periodEnd(period string, t time.Time, loc *time.Location) time.Time {
	switch period {
	case "day":
		return DayStart(DayOf(t, loc)+1, loc)
	case "week":
		return DayStart(periodKey("week", t, loc)+7, loc)
	case "month":
		return CycleAt(t, loc).End
	default:
		return time.Time{}
	}
}

func usedInPeriod(d db.Delegation, key int64) int64 {
	if d.PeriodKey != key {
		return 0
	}
	return d.PeriodUsed
}

// sourceChoice is who pays for a charge.
type sourceChoice struct {
	payer      *wallet
	live       []db.Bucket
	delegation *db.Delegation
	periodKey  int64
	used       int64
	note       string
}

// usable tells why a delegation cannot pay amount now, or "" when it can.
func usable(d db.Delegation, amount int64, now time.Time, set Settings) (key, used int64, why string) {
	key = periodKey(d.Period, now, set.Location)
	used = usedInPeriod(d, key)
	switch {
	case d.Status == "revoked":
		return key, used, "revoked"
	case d.Status == "paused":
		return key, used, "paused"
	case ms(now) < d.StartsAt:
		return key, used, "not started yet"
	case d.EndsAt.Valid && ms(now) >= d.EndsAt.Int64:
		return key, used, "ended"
	case used+amount > d.Credits:
		return key, used, "allowance for this period is spent"
	}
	return key, used, ""
}

// chooseSource picks who pays: the asked-for delegation (explicit or bound to the key), else
// the member's active delegations with allowance left, oldest first, else the member's own
// wallet. A delegation pays only when its allowance and the granter's live credits both cover
// the whole charge, so a grantee never overspends an allowance or pushes a granter into debt.
func (s *Service) chooseSource(ctx context.Context, c *db.Conn, userID, explicit, amount int64, now time.Time, set Settings) (sourceChoice, error) {
	var candidates []db.Delegation
	var note string
	if explicit != 0 {
		d, err := c.DelegationByID(ctx, explicit)
		if errors.Is(err, db.ErrNotFound) || (err == nil && d.GranteeID != userID) {
			return sourceChoice{}, Invalid("billingSource", "delegation %d does not belong to this member", explicit)
		}
		if err != nil {
			return sourceChoice{}, err
		}
		candidates = []db.Delegation{d}
	} else {
		all, err := c.DelegationsReceived(ctx, userID)
		if err != nil {
			return sourceChoice{}, err
		}
		candidates = all
	}
	for i := range candidates {
		d := candidates[i]
		key, used, why := usable(d, amount, now, set)
		if why == "" {
			w, err := openWallet(ctx, c, d.GranterID, ms(now))
			if err != nil {
				return sourceChoice{}, err
			}
			live, err := w.liveBuckets()
			if err != nil {
				return sourceChoice{}, err
			}
			if err := w.save(); err != nil { // liveBuckets may have written expiries
				return sourceChoice{}, err
			}
			if sumRemaining(live) >= amount {
				return sourceChoice{payer: w, live: live, delegation: &d, periodKey: key, used: used}, nil
			}
			why = "the granter's credits do not cover it"
		}
		if explicit != 0 {
			note = fmt.Sprintf("delegation %d: %s; charged to personal credits", d.ID, why)
		} else if d.Status == "active" && note == "" && why != "ended" && why != "not started yet" {
			note = fmt.Sprintf("delegation %d: %s; charged to personal credits", d.ID, why)
		}
	}
	w, err := openWallet(ctx, c, userID, ms(now))
	if err != nil {
		return sourceChoice{}, err
	}
	live, err := w.liveBuckets()
	return sourceChoice{payer: w, live: live, note: note}, err
}

// DelegationInfo is a delegation as the API shows it.
type DelegationInfo struct {
	ID                  int64   `json:"id"`
	GranterID           int64   `json:"granterId"`
	GranterName         string  `json:"granterName"`
	GranteeID           int64   `json:"granteeId"`
	GranteeName         string  `json:"granteeName"`
	GranteeEmail        string  `json:"granteeEmail"`
	Credits             Credits `json:"credits"`
	Period              string  `json:"period"`
	StartsAt            string  `json:"startsAt"`
	EndsAt              *string `json:"endsAt"`
	Note                string  `json:"note"`
	Status              string  `json:"status"`
	UsedThisPeriod      Credits `json:"usedThisPeriod"`
	RemainingThisPeriod Credits `json:"remainingThisPeriod"`
	PeriodEnds          *string `json:"periodEnds"`
	CreatedAt           string  `json:"createdAt"`
}

func (s *Service) delegationInfo(d db.Delegation) DelegationInfo {
	now := s.clock.Now()
	set := s.Settings()
	key := periodKey(d.Period, now, set.Location)
	used := usedInPeriod(d, key)
	info := DelegationInfo{ID: d.ID, GranterID: d.GranterID, GranterName: d.GranterName, GranteeID: d.GranteeID,
		GranteeName: d.GranteeName, GranteeEmail: d.GranteeEmail, Credits: Credits(d.Credits), Period: d.Period,
		StartsAt: fromMS(d.StartsAt).Format(time.RFC3339), EndsAt: optTime(d.EndsAt), Note: d.Note, Status: d.Status,
		UsedThisPeriod: Credits(used), RemainingThisPeriod: Credits(max(0, d.Credits-used)),
		CreatedAt: fromMS(d.CreatedAt).Format(time.RFC3339)}
	if d.Status == "active" && d.EndsAt.Valid && ms(now) >= d.EndsAt.Int64 {
		info.Status = "ended"
	}
	if end := periodEnd(d.Period, now, set.Location); !end.IsZero() {
		v := end.UTC().Format(time.RFC3339)
		info.PeriodEnds = &v
	}
	return info
}

// NewDelegation is what a granter fills in.
type NewDelegation struct {
	GranteeID    int64
	GranteeEmail string
	Credits      Credits
	Period       string
	EndsAt       *time.Time
	Note         string
}

// CreateDelegation lets the caller give another member an allowance from their own credits.
func (s *Service) CreateDelegation(ctx context.Context, p Principal, nd NewDelegation) (DelegationInfo, error) {
	if err := p.requireUser(); err != nil {
		return DelegationInfo{}, err
	}
	if nd.Credits <= 0 {
		return DelegationInfo{}, Invalid("credits", "credits must be greater than 0")
	}
	if !periods[nd.Period] {
		return DelegationInfo{}, Invalid("period", "period must be day, week, month or once")
	}
	now := s.clock.Now()
	if nd.EndsAt != nil && !nd.EndsAt.After(now) {
		return DelegationInfo{}, Invalid("endsAt", "endsAt must be in the future")
	}
	nd.Note = strings.TrimSpace(nd.Note)
	if len(nd.Note) > 200 {
		return DelegationInfo{}, Invalid("note", "note must be at most 200 characters")
	}
	r := s.db.Read()
	var grantee db.User
	var err error
	field := "granteeId"
	switch {
	case nd.GranteeID != 0:
		grantee, err = r.UserByID(ctx, nd.GranteeID)
	case nd.GranteeEmail != "":
		field = "granteeEmail"
		grantee, err = r.UserByEmail(ctx, nd.GranteeEmail)
	default:
		return DelegationInfo{}, Invalid("granteeEmail", "granteeEmail or granteeId is required")
	}
	if errors.Is(err, db.ErrNotFound) || (err == nil && grantee.Disabled) {
		return DelegationInfo{}, Invalid(field, "no active member with this %s", strings.TrimPrefix(field, "grantee"))
	}
	if err != nil {
		return DelegationInfo{}, err
	}
	if grantee.ID == p.UserID {
		return DelegationInfo{}, Invalid(field, "you cannot delegate credits to yourself")
	}
	var out DelegationInfo
	err = s.db.Update(ctx, func(c *db.Conn) error {
		d := db.Delegation{GranterID: p.UserID, GranteeID: grantee.ID, Credits: int64(nd.Credits), Period: nd.Period,
			StartsAt: ms(now), Note: nd.Note, CreatedAt: ms(now)}
		if nd.EndsAt != nil {
			d.EndsAt = sql.NullInt64{Int64: ms(*nd.EndsAt), Valid: true}
		}
		id, err := c.InsertDelegation(ctx, d)
		if err != nil {
			return err
		}
		d, err = c.DelegationByID(ctx, id)
		out = s.delegationInfo(d)
		return err
	})
	return out, err
}

// Delegations lists what the caller gave and received.
func (s *Service) Delegations(ctx context.Context, p Principal) (given, received []DelegationInfo, err error) {
	if err := p.requireUser(); err != nil {
		return nil, nil, err
	}
	r := s.db.Read()
	g, err := r.DelegationsGiven(ctx, p.UserID)
	if err != nil {
		return nil, nil, err
	}
	rc, err := r.DelegationsReceived(ctx, p.UserID)
	if err != nil {
		return nil, nil, err
	}
	given, received = []DelegationInfo{}, []DelegationInfo{}
	for _, d := range g {
		given = append(given, s.delegationInfo(d))
	}
	for _, d := range rc {
		received = append(received, s.delegationInfo(d))
	}
	return given, received, nil
}

// RevokeDelegation stops a delegation at once; its history stays.
func (s *Service) RevokeDelegation(ctx context.Context, p Principal, id int64) error {
	if err := p.requireUser(); err != nil {
		return err
	}
	return s.db.Update(ctx, func(c *db.Conn) error {
		d, err := c.DelegationByID(ctx, id)
		if errors.Is(err, db.ErrNotFound) || (err == nil && d.GranterID != p.UserID && d.GranteeID != p.UserID) {
			return Errorf(ENOTFOUND, "no delegation %d", id)
		}
		if err != nil {
			return err
		}
		if d.GranterID != p.UserID {
			return Errorf(EFORBIDDEN, "only the granter can revoke a delegation")
		}
		if d.Status == "revoked" {
			return nil
		}
		return c.RevokeDelegation(ctx, id, ms(s.clock.Now()))
	})
}

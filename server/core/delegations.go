package core

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
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

// currentTerms returns d with an edit that was waiting for the next period applied, once
// that period has begun. due tells whether anything changed (and should be stored).
func currentTerms(d db.Delegation, now time.Time) (out db.Delegation, due bool) {
	if !d.PendingFrom.Valid || ms(now) < d.PendingFrom.Int64 {
		return d, false
	}
	if d.PendingCredits.Valid {
		d.Credits = d.PendingCredits.Int64
	}
	if d.PendingPeriod.Valid {
		d.Period = d.PendingPeriod.String
	}
	d.PendingCredits, d.PendingPeriod, d.PendingFrom = sql.NullInt64{}, sql.NullString{}, sql.NullInt64{}
	return d, true
}

func idList(js string) []int64 {
	var out []int64
	if js != "" {
		_ = json.Unmarshal([]byte(js), &out)
	}
	return out
}

func nameList(js string) []string {
	var out []string
	if js != "" {
		_ = json.Unmarshal([]byte(js), &out)
	}
	return out
}

// usable tells why a delegation cannot pay for this app and model now, or "" when it may: its
// status, dates and restrictions. How much it has left is the caller's to weigh (allowanceLeft).
func usable(d db.Delegation, appID int64, model string, now time.Time, set Settings) (key, used int64, why string) {
	key = periodKey(d.Period, now, set.Location)
	used = usedInPeriod(d, key)
	if why := inForce(d, now); why != "" {
		return key, used, why
	}
	if apps := idList(d.Apps); len(apps) > 0 && !slices.Contains(apps, appID) {
		return key, used, "not for this app"
	}
	if models := nameList(d.Models); len(models) > 0 && !modelAllowed(models, model) {
		return key, used, "not for this model"
	}
	return key, used, ""
}

// inForce tells why a delegation pays nothing now whatever the request, or "" when it may pay.
func inForce(d db.Delegation, now time.Time) string {
	switch {
	case d.Status == "revoked":
		return "revoked"
	case d.Status == "paused":
		return "paused"
	case ms(now) < d.StartsAt:
		return "not started yet"
	case d.EndsAt.Valid && ms(now) >= d.EndsAt.Int64:
		return "ended"
	}
	return ""
}

// modelAllowed tells whether model matches one of patterns: a model id, or a glob with * (any
// run of characters), compared without regard to case.
func modelAllowed(patterns []string, model string) bool {
	m := strings.ToLower(model)
	for _, p := range patterns {
		p = strings.ToLower(p)
		if p == m {
			return true
		}
		if strings.Contains(p, "*") {
			if ok, err := path.Match(p, m); err == nil && ok {
				return true
			}
		}
	}
	return false
}

// DelegationInfo is a delegation as the API shows it.
type DelegationInfo struct {
	ID                  int64         `json:"id"`
	GranterID           int64         `json:"granterId"`
	GranterName         string        `json:"granterName"`
	GranteeID           int64         `json:"granteeId"`
	GranteeName         string        `json:"granteeName"`
	GranteeEmail        string        `json:"granteeEmail"`
	Credits             Credits       `json:"credits"`
	Period              string        `json:"period"`
	StartsAt            string        `json:"startsAt"`
	EndsAt              *string       `json:"endsAt"`
	Note                string        `json:"note"`
	Status              string        `json:"status"`
	Apps                []AppInfo     `json:"apps"`
	Models              []string      `json:"models"`
	UsedThisPeriod      Credits       `json:"usedThisPeriod"`
	RemainingThisPeriod Credits       `json:"remainingThisPeriod"`
	PeriodEnds          *string       `json:"periodEnds"`
	Pending             *PendingTerms `json:"pending"`
	CreatedAt           string        `json:"createdAt"`
}

// PendingTerms is an edit that takes over at the next period.
type PendingTerms struct {
	Credits Credits `json:"credits"`
	Period  string  `json:"period"`
	From    string  `json:"from"`
}

func (s *Service) delegationInfo(ctx context.Context, r *db.Conn, d db.Delegation) DelegationInfo {
	now := s.clock.Now()
	set := s.Settings()
	d, _ = currentTerms(d, now)
	key := periodKey(d.Period, now, set.Location)
	used := usedInPeriod(d, key)
	info := DelegationInfo{ID: d.ID, GranterID: d.GranterID, GranterName: d.GranterName, GranteeID: d.GranteeID,
		GranteeName: d.GranteeName, GranteeEmail: shownEmail(d.GranteeEmail), Credits: Credits(d.Credits), Period: d.Period,
		StartsAt: fromMS(d.StartsAt).Format(time.RFC3339), EndsAt: optTime(d.EndsAt), Note: d.Note, Status: d.Status,
		Apps: []AppInfo{}, Models: nameList(d.Models),
		UsedThisPeriod: Credits(used), RemainingThisPeriod: Credits(max(0, d.Credits-used)),
		CreatedAt: fromMS(d.CreatedAt).Format(time.RFC3339)}
	if info.Models == nil {
		info.Models = []string{}
	}
	for _, id := range idList(d.Apps) {
		if a, err := r.AppByID(ctx, id); err == nil {
			info.Apps = append(info.Apps, appInfo(a, nil))
		}
	}
	switch {
	case d.Status != "active":
	case d.EndsAt.Valid && ms(now) >= d.EndsAt.Int64:
		info.Status = "ended"
	case ms(now) < d.StartsAt:
		info.Status = "scheduled"
	}
	if end := periodEnd(d.Period, now, set.Location); !end.IsZero() {
		v := end.UTC().Format(time.RFC3339)
		info.PeriodEnds = &v
	}
	if d.PendingFrom.Valid {
		info.Pending = &PendingTerms{Credits: Credits(d.PendingCredits.Int64), Period: d.PendingPeriod.String,
			From: fromMS(d.PendingFrom.Int64).UTC().Format(time.RFC3339)}
	}
	return info
}

// NewDelegation is what a granter fills in.
type NewDelegation struct {
	GranteeID    int64
	GranteeEmail string
	Credits      Credits
	Period       string
	StartsAt     *time.Time
	EndsAt       *time.Time
	Note         string
	Apps         []string // app ids or slugs
	Models       []string
}

// restrictions validates app and model restrictions and returns them as stored JSON.
func (s *Service) restrictions(ctx context.Context, apps, models []string) (string, string, error) {
	var appsJSON, modelsJSON string
	if len(apps) > 0 {
		ids := []int64{}
		for _, ref := range apps {
			a, err := s.appByRef(ctx, strings.TrimSpace(ref))
			if errors.Is(err, db.ErrNotFound) {
				return "", "", Invalid("apps", "no registered app %q", ref)
			}
			if err != nil {
				return "", "", err
			}
			if !slices.Contains(ids, a.ID) {
				ids = append(ids, a.ID)
			}
		}
		b, _ := json.Marshal(ids)
		appsJSON = string(b)
	}
	if len(models) > 0 {
		clean := []string{}
		for _, m := range models {
			m = strings.TrimSpace(m)
			if m == "" || len(m) > 100 {
				return "", "", Invalid("models", "model names must be 1 to 100 characters")
			}
			if !slices.Contains(clean, m) {
				clean = append(clean, m)
			}
		}
		b, _ := json.Marshal(clean)
		modelsJSON = string(b)
	}
	return appsJSON, modelsJSON, nil
}

// delegationTerms checks the parts of a new delegation that do not depend on the grantee.
func (s *Service) delegationTerms(ctx context.Context, nd NewDelegation, now time.Time) (db.Delegation, error) {
	if nd.Credits <= 0 {
		return db.Delegation{}, Invalid("credits", "credits must be greater than 0")
	}
	if !periods[nd.Period] {
		return db.Delegation{}, Invalid("period", "period must be day, week, month or once")
	}
	starts := now
	if nd.StartsAt != nil {
		starts = *nd.StartsAt
	}
	if nd.EndsAt != nil && (!nd.EndsAt.After(now) || !nd.EndsAt.After(starts)) {
		return db.Delegation{}, Invalid("endsAt", "endsAt must be in the future and after startsAt")
	}
	note := strings.TrimSpace(nd.Note)
	if len(note) > 200 {
		return db.Delegation{}, Invalid("note", "note must be at most 200 characters")
	}
	apps, models, err := s.restrictions(ctx, nd.Apps, nd.Models)
	if err != nil {
		return db.Delegation{}, err
	}
	d := db.Delegation{Credits: int64(nd.Credits), Period: nd.Period, StartsAt: ms(starts), Note: note,
		CreatedAt: ms(now), Apps: apps, Models: models}
	if nd.EndsAt != nil {
		d.EndsAt = sql.NullInt64{Int64: ms(*nd.EndsAt), Valid: true}
	}
	return d, nil
}

func (s *Service) grantee(ctx context.Context, p Principal, id int64, email, field string) (db.User, error) {
	r := s.db.Read()
	var u db.User
	var err error
	switch {
	case id != 0:
		u, err = r.UserByID(ctx, id)
	case email != "":
		u, err = r.UserByEmail(ctx, email)
	default:
		return u, Invalid(field, "say who receives the allowance: granteeEmail or granteeId")
	}
	if errors.Is(err, db.ErrNotFound) || (err == nil && u.Disabled) {
		return u, Invalid(field, "no active member %s", firstNonEmpty(email, strconv.FormatInt(id, 10)))
	}
	// Both given must name one member, as in POST /usage: giving the id's member an allowance
	// meant for the email's would hand credits to someone the granter did not mean.
	if err == nil && id != 0 && email != "" && !strings.EqualFold(strings.TrimSpace(email), u.Email) {
		return u, Invalid("granteeEmail", "granteeId %d and granteeEmail %s are different members: send one of them", id, email)
	}
	if err == nil && u.ID == p.UserID {
		return u, Invalid(field, "you cannot delegate credits to yourself")
	}
	return u, err
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// CreateDelegation lets the caller give another member an allowance from their own credits.
func (s *Service) CreateDelegation(ctx context.Context, p Principal, nd NewDelegation) (DelegationInfo, error) {
	out, err := s.createDelegations(ctx, p, nd, []db.User{}, func() ([]db.User, error) {
		field := "granteeId"
		if nd.GranteeID == 0 {
			field = "granteeEmail"
		}
		u, err := s.grantee(ctx, p, nd.GranteeID, nd.GranteeEmail, field)
		return []db.User{u}, err
	})
	if err != nil {
		return DelegationInfo{}, err
	}
	return out[0], nil
}

// BulkDelegation gives the same allowance to many members: by id, by email, or a group.
type BulkDelegation struct {
	NewDelegation
	GranteeIDs    []int64
	GranteeEmails []string
	Group         string
}

// CreateDelegations gives the same allowance to many members at once, all or nothing.
func (s *Service) CreateDelegations(ctx context.Context, p Principal, b BulkDelegation) ([]DelegationInfo, error) {
	return s.createDelegations(ctx, p, b.NewDelegation, nil, func() ([]db.User, error) {
		var users []db.User
		seen := map[int64]bool{}
		add := func(u db.User) {
			if !seen[u.ID] {
				seen[u.ID] = true
				users = append(users, u)
			}
		}
		for i, id := range b.GranteeIDs {
			u, err := s.grantee(ctx, p, id, "", fmt.Sprintf("granteeIds[%d]", i))
			if err != nil {
				return nil, err
			}
			add(u)
		}
		for i, email := range b.GranteeEmails {
			u, err := s.grantee(ctx, p, 0, email, fmt.Sprintf("granteeEmails[%d]", i))
			if err != nil {
				return nil, err
			}
			add(u)
		}
		if g := strings.TrimSpace(b.Group); g != "" {
			ids, err := s.db.Read().UserIDsInGroup(ctx, g)
			if err != nil {
				return nil, err
			}
			if len(ids) == 0 {
				return nil, Invalid("group", "no active member is in group %q", g)
			}
			for _, id := range ids {
				if id == p.UserID {
					continue
				}
				u, err := s.grantee(ctx, p, id, "", "group")
				if err != nil {
					return nil, err
				}
				add(u)
			}
		}
		if len(users) == 0 {
			return nil, Invalid("granteeIds", "name at least one grantee: granteeIds, granteeEmails or group")
		}
		if len(users) > 2000 {
			return nil, Invalid("granteeIds", "at most 2,000 grantees at once")
		}
		return users, nil
	})
}

func (s *Service) createDelegations(ctx context.Context, p Principal, nd NewDelegation, _ []db.User, grantees func() ([]db.User, error)) ([]DelegationInfo, error) {
	if err := p.requireUser(); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	terms, err := s.delegationTerms(ctx, nd, now)
	if err != nil {
		return nil, err
	}
	users, err := grantees()
	if err != nil {
		return nil, err
	}
	out := []DelegationInfo{}
	err = s.db.Update(ctx, func(c *db.Conn) error {
		out = out[:0]
		for _, u := range users {
			d := terms
			d.GranterID, d.GranteeID = p.UserID, u.ID
			s.markGrantee(u.ID)
			id, err := c.InsertDelegation(ctx, d)
			if err != nil {
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
		given = append(given, s.delegationInfo(ctx, r, d))
	}
	for _, d := range rc {
		received = append(received, s.delegationInfo(ctx, r, d))
	}
	return given, received, nil
}

// RevokeDelegation stops a delegation at once; its history stays.
func (s *Service) RevokeDelegation(ctx context.Context, p Principal, id int64) error {
	if err := p.requireUser(); err != nil {
		return err
	}
	return s.db.Update(ctx, func(c *db.Conn) error {
		d, err := givenDelegation(ctx, c, p, id)
		if err != nil {
			return err
		}
		if d.Status == "revoked" {
			return nil
		}
		return c.RevokeDelegation(ctx, id, ms(s.clock.Now()))
	})
}

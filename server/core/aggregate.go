package core

import (
	"context"
	"strconv"
	"strings"
	"time"

	"tokenjar/db"
)

// AggItem is one group of an aggregate.
type AggItem struct {
	Key       string    `json:"key"`
	Label     string    `json:"label"`
	Requests  int64     `json:"requests"`
	Credits   Credits   `json:"credits"`
	Tokens    int64     `json:"tokens"`
	Kinds     KindsJSON `json:"kinds"`
	Allowance *Credits  `json:"allowance,omitempty"`
	// PaidBy (own usage by day or month): what each allowance a member receives paid. Those
	// credits came out of the granter's buckets, so Kinds counts only the member's own buckets.
	PaidBy []PaidBy `json:"paidBy,omitempty"`
}

// PaidBy is what one allowance paid of a member's usage in one group.
type PaidBy struct {
	Source  string  `json:"source"` // the delegation id, as billingSource names it
	Label   string  `json:"label"`  // "Mum's allowance", with its note if it has one
	Credits Credits `json:"credits"`
}

// KindsJSON splits credits by the kind of bucket that paid them.
type KindsJSON struct {
	Subscription Credits `json:"subscription"`
	Addon        Credits `json:"addon"`
	Event        Credits `json:"event"`
	Debt         Credits `json:"debt"`
}

// Totals sums an aggregate.
type Totals struct {
	Requests int64   `json:"requests"`
	Credits  Credits `json:"credits"`
	Tokens   int64   `json:"tokens"`
}

// Aggregate is the reply of GET /usage/aggregate.
type Aggregate struct {
	By     string    `json:"by"`
	Items  []AggItem `json:"items"`
	Totals Totals    `json:"totals"`
}

var aggBy = map[string]bool{"day": true, "month": true, "usageType": true, "app": true, "model": true, "provider": true,
	"project": true, "source": true, "modality": true, "member": true}

// Aggregate groups the usage a caller may see by one dimension, from the per-day rollups.
// Ranges count whole days in the instance time zone. scope: own (default), granted, or all
// (admins: every member's totals).
func (s *Service) Aggregate(ctx context.Context, p Principal, q UsageQuery) (Aggregate, error) {
	if q.By == "" {
		q.By = "day"
	}
	if !aggBy[q.By] {
		return Aggregate{}, Invalid("by", "by must be one of day, month, usageType, app, model, provider, project, source, modality, member")
	}
	r, err := s.resolveQuery(ctx, q)
	if err != nil {
		return Aggregate{}, err
	}
	switch q.Scope {
	case "", "own":
		err = s.scope(p, &r, false)
	case "granted":
		err = s.scope(p, &r, true)
	case "all":
		if err = p.requireAdmin(); err == nil && r.member != 0 {
			r.agg.UserID = r.member
		}
	default:
		err = Invalid("scope", "scope must be own, granted or all")
	}
	if err != nil {
		return Aggregate{}, err
	}
	by := q.By
	if by == "month" {
		by = "day"
	}
	rd := s.db.Read()
	rows, err := rd.Aggregate(ctx, by, r.agg)
	if err != nil {
		return Aggregate{}, err
	}
	out := Aggregate{By: q.By, Items: []AggItem{}}
	if q.By == "month" {
		rows = foldMonths(rows)
	}
	labels, err := s.labels(ctx, rd, q.By, rows)
	if err != nil {
		return Aggregate{}, err
	}
	for _, row := range rows {
		it := AggItem{Key: row.Key, Label: row.Key, Requests: row.Requests, Credits: Credits(row.Credits), Tokens: row.Tokens,
			Kinds: KindsJSON{Credits(row.Kinds.Subscription), Credits(row.Kinds.Addon), Credits(row.Kinds.Event), Credits(row.Kinds.Debt)}}
		if q.By == "day" {
			n, _ := strconv.ParseInt(row.Key, 10, 64)
			it.Key = DayString(n)
			it.Label = it.Key
		}
		if l, ok := labels[row.Key]; ok {
			it.Label = l
		}
		out.Totals.Requests += row.Requests
		out.Totals.Credits += Credits(row.Credits)
		out.Totals.Tokens += row.Tokens
		out.Items = append(out.Items, it)
	}
	own := p.isUser() && (q.Scope == "" || q.Scope == "own")
	if q.By == "month" && own && len(out.Items) > 0 {
		if err := s.addAllowance(ctx, rd, p.UserID, out.Items); err != nil {
			return Aggregate{}, err
		}
	}
	if (q.By == "day" || q.By == "month") && own && len(out.Items) > 0 {
		if err := s.splitPaidBy(ctx, rd, r.agg, q.By == "month", out.Items); err != nil {
			return Aggregate{}, err
		}
	}
	return out, nil
}

// splitPaidBy moves what allowances paid out of each item's own bucket kinds into PaidBy, one
// entry per allowance, so a grantee's chart never shows a granter's buckets as their own.
func (s *Service) splitPaidBy(ctx context.Context, r *db.Conn, f db.AggFilter, months bool, items []AggItem) error {
	// Most members never receive an allowance: spare them a second pass over their rollups.
	if n, err := r.CountDelegationsReceived(ctx, f.UserID); err != nil || n == 0 {
		return err
	}
	paid, err := r.PaidByAllowances(ctx, f)
	if err != nil {
		return err
	}
	at := map[string]int{}
	for i, it := range items {
		at[it.Key] = i
	}
	labels := map[int64]string{}
	for _, row := range paid {
		key := DayString(row.Day)
		if months {
			key = key[:7]
		}
		i, ok := at[key]
		if !ok || row.Credits == 0 {
			continue
		}
		label, ok := labels[row.DelegationID]
		if !ok {
			label = allowanceLabel(ctx, r, row.DelegationID)
			labels[row.DelegationID] = label
		}
		it := &items[i]
		it.Kinds.Subscription -= Credits(row.Kinds.Subscription)
		it.Kinds.Addon -= Credits(row.Kinds.Addon)
		it.Kinds.Event -= Credits(row.Kinds.Event)
		it.Kinds.Debt -= Credits(row.Kinds.Debt)
		it.PaidBy = addPaidBy(it.PaidBy, strconv.FormatInt(row.DelegationID, 10), label, Credits(row.Credits))
	}
	return nil
}

// addPaidBy adds credits to the entry of source, or appends one.
func addPaidBy(list []PaidBy, source, label string, credits Credits) []PaidBy {
	for i := range list {
		if list[i].Source == source {
			list[i].Credits += credits
			return list
		}
	}
	return append(list, PaidBy{Source: source, Label: label, Credits: credits})
}

// allowanceLabel names an allowance by its granter: "Mum's allowance (Homework)".
func allowanceLabel(ctx context.Context, r *db.Conn, id int64) string {
	d, err := r.DelegationByID(ctx, id)
	if err != nil {
		return "allowance " + strconv.FormatInt(id, 10)
	}
	return allowanceName(d)
}

// allowanceName names an allowance as people know it, by its granter and its note if it has
// one: "Mum's allowance (Homework)", never by its number.
func allowanceName(d db.Delegation) string {
	name := d.GranterName + "'s allowance"
	if d.Note != "" {
		name += " (" + d.Note + ")"
	}
	return name
}

// foldMonths turns day-keyed rows into YYYY-MM rows.
func foldMonths(rows []db.AggRow) []db.AggRow {
	var out []db.AggRow
	for _, r := range rows {
		n, _ := strconv.ParseInt(r.Key, 10, 64)
		m := DayString(n)[:7]
		if len(out) == 0 || out[len(out)-1].Key != m {
			out = append(out, db.AggRow{Key: m})
		}
		o := &out[len(out)-1]
		o.Requests += r.Requests
		o.Credits += r.Credits
		o.Tokens += r.Tokens
		o.Kinds.Subscription += r.Kinds.Subscription
		o.Kinds.Addon += r.Kinds.Addon
		o.Kinds.Event += r.Kinds.Event
		o.Kinds.Debt += r.Kinds.Debt
	}
	return out
}

func (s *Service) addAllowance(ctx context.Context, r *db.Conn, userID int64, items []AggItem) error {
	cycle := func(key string) int64 {
		n, _ := strconv.ParseInt(strings.ReplaceAll(key, "-", ""), 10, 64)
		return n
	}
	allow, err := r.AllowanceByCycle(ctx, userID, cycle(items[0].Key), cycle(items[len(items)-1].Key))
	if err != nil {
		return err
	}
	for i := range items {
		v := Credits(allow[cycle(items[i].Key)])
		items[i].Allowance = &v
	}
	return nil
}

// labels names the keys that are ids.
func (s *Service) labels(ctx context.Context, r *db.Conn, by string, rows []db.AggRow) (map[string]string, error) {
	out := map[string]string{}
	for _, row := range rows {
		id, _ := strconv.ParseInt(row.Key, 10, 64)
		switch by {
		case "app":
			if id == 0 {
				out[row.Key] = "(no app)"
			} else if a, err := r.AppByID(ctx, id); err == nil {
				out[row.Key] = a.Name
			}
		case "source":
			if row.Key == "personal" {
				out[row.Key] = "personal"
			} else if d, err := r.DelegationByID(ctx, id); err == nil {
				label := "from " + d.GranterName
				if d.Note != "" {
					label += " (" + d.Note + ")"
				}
				out[row.Key] = label
			}
		case "member":
			if u, err := r.UserByID(ctx, id); err == nil {
				out[row.Key] = u.Name
			}
		case "model", "project", "usageType", "provider", "modality":
			if row.Key == "" {
				out[row.Key] = "(none)"
			}
		}
	}
	return out, nil
}

// Facets are the values seen in the caller's events, for filter menus.
type Facets struct {
	Apps       []AppInfo `json:"apps"`
	Models     []string  `json:"models"`
	Providers  []string  `json:"providers"`
	UsageTypes []string  `json:"usageTypes"`
	Projects   []string  `json:"projects"`
	Modalities []string  `json:"modalities"`
}

// Facets lists filter values from the caller's own rollups, or (granted) from the usage billed
// to the caller's delegations.
func (s *Service) Facets(ctx context.Context, p Principal, granted bool) (Facets, error) {
	if err := p.requireUser(); err != nil {
		return Facets{}, err
	}
	scope := db.FacetScope{UserID: p.UserID}
	if granted {
		scope = db.FacetScope{GranterID: p.UserID}
	}
	r := s.db.Read()
	f := Facets{Apps: []AppInfo{}}
	var err error
	for _, x := range []struct {
		col string
		dst *[]string
	}{{"model", &f.Models}, {"provider", &f.Providers}, {"usage_type", &f.UsageTypes}, {"project", &f.Projects}, {"modality", &f.Modalities}} {
		if *x.dst, err = r.Facets(ctx, scope, x.col); err != nil {
			return f, err
		}
		if *x.dst == nil {
			*x.dst = []string{}
		}
	}
	ids, err := r.FacetAppIDs(ctx, scope)
	if err != nil {
		return f, err
	}
	for _, id := range ids {
		if a, err := r.AppByID(ctx, id); err == nil {
			f.Apps = append(f.Apps, appInfo(a, nil))
		}
	}
	return f, nil
}

// SettingsView is the settings as the API shows them.
type SettingsView struct {
	InstanceName  string    `json:"instanceName"`
	TimeZone      string    `json:"timeZone"`
	CreditsPerUSD Credits   `json:"creditsPerUSD"`
	SignupDomains []string  `json:"signupDomains"`
	Cycle         CycleView `json:"cycle"`
}

// CycleView is the current cycle's bounds.
type CycleView struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// SettingsView returns the settings with the current cycle.
func (s *Service) SettingsView() SettingsView {
	set := s.Settings()
	cy := CycleAt(s.clock.Now(), set.Location)
	domains := set.SignupDomains
	if domains == nil {
		domains = []string{}
	}
	return SettingsView{InstanceName: set.InstanceName, TimeZone: set.TimeZone, CreditsPerUSD: Credits(set.MilliPerUSD), SignupDomains: domains,
		Cycle: CycleView{Start: cy.Start.UTC().Format(time.RFC3339), End: cy.End.UTC().Format(time.RFC3339)}}
}

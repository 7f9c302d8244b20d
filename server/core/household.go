package core

import (
	"context"
	"slices"
	"strings"

	"tokenjar/db"
)

// HouseholdModel is one of a member's most used models over the range.
type HouseholdModel struct {
	Model    string  `json:"model"`
	Credits  Credits `json:"credits"`
	Requests int64   `json:"requests"`
}

// HouseholdMember is who spent what: one member's totals over the range.
type HouseholdMember struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Group string `json:"group"`
	// Credits is OwnCredits + AllowanceCredits. In the granted scope only what the caller's
	// allowances paid counts, so OwnCredits is 0 there.
	Credits          Credits          `json:"credits"`
	OwnCredits       Credits          `json:"ownCredits"`
	AllowanceCredits Credits          `json:"allowanceCredits"`
	Requests         int64            `json:"requests"`
	Tokens           int64            `json:"tokens"`
	TopModels        []HouseholdModel `json:"topModels"`
}

// Household is the reply of GET /household.
type Household struct {
	// Scope is "all" (an admin: every member's whole usage) or "granted" (the people the
	// caller gives allowances to, and only what those allowances paid).
	Scope   string            `json:"scope"`
	Members []HouseholdMember `json:"members"`
	Totals  Totals            `json:"totals"`
}

// householdTopModels is how many models each member lists.
const householdTopModels = 3

// Household sums every member's usage over a range, by member and model, from the per-day
// rollups (whole days in the instance time zone, as /usage/aggregate counts them). An admin sees
// everyone's totals (scope all, the default for admins); anyone else sees the people they give
// allowances to, counting only what those allowances paid (scope granted). No per-request log
// is shown, as section 5 of the spec allows.
func (s *Service) Household(ctx context.Context, p Principal, q UsageQuery) (Household, error) {
	if err := p.requireUser(); err != nil {
		return Household{}, err
	}
	scope := q.Scope
	if scope == "" {
		scope = "granted"
		if p.isAdmin() {
			scope = "all"
		}
	}
	if scope != "all" && scope != "granted" {
		return Household{}, Invalid("scope", "scope must be all or granted")
	}
	if scope == "all" {
		if err := p.requireAdmin(); err != nil {
			return Household{}, err
		}
	}
	r, err := s.resolveQuery(ctx, UsageQuery{From: q.From, To: q.To})
	if err != nil {
		return Household{}, err
	}
	rd := s.db.Read()
	people, err := s.householdPeople(ctx, rd, p, scope)
	if err != nil {
		return Household{}, err
	}
	if scope == "granted" {
		r.agg.GranterID = p.UserID
	}
	rows, err := rd.UsageByMemberModel(ctx, r.agg)
	if err != nil {
		return Household{}, err
	}
	out := Household{Scope: scope, Members: sumHousehold(people, rows)}
	for _, m := range out.Members {
		out.Totals.Credits += m.Credits
		out.Totals.Requests += m.Requests
		out.Totals.Tokens += m.Tokens
	}
	return out, nil
}

// householdPeople lists who the page shows, before their totals: every member (scope all), or
// everyone the caller has given an allowance to, revoked ones included (their spending in the
// range still counts).
func (s *Service) householdPeople(ctx context.Context, rd *db.Conn, p Principal, scope string) ([]HouseholdMember, error) {
	users, err := rd.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	keep := func(db.User) bool { return true }
	if scope == "granted" {
		given, err := rd.DelegationsGiven(ctx, p.UserID)
		if err != nil {
			return nil, err
		}
		grantees := map[int64]bool{}
		for _, d := range given {
			grantees[d.GranteeID] = true
		}
		keep = func(u db.User) bool { return grantees[u.ID] }
	}
	out := []HouseholdMember{}
	for _, u := range users {
		if keep(u) {
			out = append(out, HouseholdMember{ID: u.ID, Name: u.Name, Group: u.Group, TopModels: []HouseholdModel{}})
		}
	}
	return out, nil
}

// sumHousehold adds the rollup rows to the people they belong to (rows of anyone else are
// dropped), picks each member's top models by credits, and orders the members by credits.
func sumHousehold(people []HouseholdMember, rows []db.MemberModelRow) []HouseholdMember {
	at := map[int64]int{}
	for i, m := range people {
		at[m.ID] = i
	}
	models := make([]map[string]*HouseholdModel, len(people))
	for _, row := range rows {
		i, ok := at[row.UserID]
		if !ok {
			continue
		}
		m := &people[i]
		if row.ByAllowance {
			m.AllowanceCredits += Credits(row.Credits)
		} else {
			m.OwnCredits += Credits(row.Credits)
		}
		m.Credits += Credits(row.Credits)
		m.Requests += row.Requests
		m.Tokens += row.Tokens
		if models[i] == nil {
			models[i] = map[string]*HouseholdModel{}
		}
		hm := models[i][row.Model]
		if hm == nil {
			hm = &HouseholdModel{Model: row.Model}
			models[i][row.Model] = hm
		}
		hm.Credits += Credits(row.Credits)
		hm.Requests += row.Requests
	}
	for i := range people {
		people[i].TopModels = topModels(models[i])
	}
	slices.SortStableFunc(people, func(a, b HouseholdMember) int {
		if c := cmpDesc(int64(a.Credits), int64(b.Credits)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return people
}

// topModels picks the models with the most credits (then requests), at most householdTopModels.
func topModels(byModel map[string]*HouseholdModel) []HouseholdModel {
	out := []HouseholdModel{}
	for _, m := range byModel {
		if m.Credits == 0 && m.Requests == 0 {
			continue
		}
		if m.Model == "" {
			m.Model = "(none)"
		}
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b HouseholdModel) int {
		switch {
		case a.Credits != b.Credits:
			return cmpDesc(int64(a.Credits), int64(b.Credits))
		case a.Requests != b.Requests:
			return cmpDesc(a.Requests, b.Requests)
		}
		return strings.Compare(a.Model, b.Model)
	})
	if len(out) > householdTopModels {
		out = out[:householdTopModels]
	}
	return out
}

func cmpDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

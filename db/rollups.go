package db

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// DailyDelta is what one event (or its refund) adds to its per-day rollup row.
type DailyDelta struct {
	UserID       int64
	Day          int64
	AppID        int64
	Model        string
	Provider     string
	UsageType    string
	Project      string
	Modality     string
	DelegationID int64
	Requests     int64
	Credits      int64
	Tokens       int64
	Kinds        KindSplit
}

// KindSplit divides credits by the kind of bucket that paid them; Debt is the uncovered part.
type KindSplit struct {
	Subscription, Addon, Event, Debt int64
}

// addDailyUpsert adds a delta to its rollup row. The old row's columns are named by the table
// (PostgreSQL finds a bare name ambiguous with excluded's).
const addDailyUpsert = ` ON CONFLICT (user_id, day, app_id, model, provider, usage_type, project, modality, delegation_id)
		DO UPDATE SET requests = usage_daily.requests + excluded.requests, credits = usage_daily.credits + excluded.credits,
		tokens = usage_daily.tokens + excluded.tokens, c_subscription = usage_daily.c_subscription + excluded.c_subscription,
		c_addon = usage_daily.c_addon + excluded.c_addon, c_event = usage_daily.c_event + excluded.c_event,
		c_debt = usage_daily.c_debt + excluded.c_debt`

func (c *Conn) AddDaily(ctx context.Context, d DailyDelta) error {
	_, err := c.exec(ctx, addDailyMany.text(1),
		d.UserID, d.Day, d.AppID, d.Model, d.Provider, d.UsageType, d.Project, d.Modality, d.DelegationID,
		d.Requests, d.Credits, d.Tokens, d.Kinds.Subscription, d.Kinds.Addon, d.Kinds.Event, d.Kinds.Debt)
	return err
}

// AggFilter selects rollup rows. Days are inclusive; zero values mean "any".
type AggFilter struct {
	UserID    int64
	GranterID int64
	GranteeID int64
	FromDay   int64
	ToDay     int64
	HasFrom   bool
	HasTo     bool
	AppID     int64
	Model     string
	Provider  string
	UsageType string
	Project   string
	Modality  string
	// Source: "" any, "personal", or "delegation" with DelegationID.
	Source       string
	DelegationID int64
}

// AggRow is one group of an aggregate.
type AggRow struct {
	Key      string
	Requests int64
	Credits  int64
	Tokens   int64
	Kinds    KindSplit
}

// aggKeys are the columns an aggregate groups by. Grouping by the bare column (not an
// expression) lets SQLite walk the primary key in order instead of building a temp b-tree.
var aggKeys = map[string]string{
	"day":       "d.day",
	"usageType": "d.usage_type",
	"app":       "d.app_id",
	"model":     "d.model",
	"provider":  "d.provider",
	"project":   "d.project",
	"modality":  "d.modality",
	"source":    "d.delegation_id",
	"member":    "d.user_id",
	"all":       "''",
}

// aggregateQuery builds the SQL that sums f's rollup rows grouped by key.
func aggregateQuery(key string, f AggFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if f.UserID != 0 {
		add("d.user_id = ?", f.UserID)
	}
	if f.GranterID != 0 {
		// "!= 0" lets the planner use the partial index on delegated rows.
		add("d.delegation_id IN (SELECT id FROM delegations WHERE granter_id = ?) AND d.delegation_id != 0", f.GranterID)
	}
	if f.GranteeID != 0 {
		add("d.user_id = ?", f.GranteeID)
	}
	if f.UserID == 0 && f.GranterID == 0 && f.GranteeID == 0 {
		// Everyone's usage (the members page): one primary-key range per member, rather than a
		// second index by day that every report would have to update.
		add("d.user_id IN (SELECT id FROM users)")
	}
	if f.HasFrom {
		add("d.day >= ?", f.FromDay)
	}
	if f.HasTo {
		add("d.day <= ?", f.ToDay)
	}
	if f.AppID != 0 {
		add("d.app_id = ?", f.AppID)
	}
	for _, kv := range []struct{ col, v string }{{"d.model", f.Model}, {"d.provider", f.Provider}, {"d.usage_type", f.UsageType}, {"d.project", f.Project}, {"d.modality", f.Modality}} {
		if kv.v != "" {
			add(kv.col+" = ?", kv.v)
		}
	}
	switch f.Source {
	case "personal":
		add("d.delegation_id = 0")
	case "delegation":
		add("d.delegation_id = ?", f.DelegationID)
	case "delegated":
		add("d.delegation_id != 0")
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	q := `SELECT ` + key + `, sum(d.requests), sum(d.credits), sum(d.tokens), sum(d.c_subscription), sum(d.c_addon), sum(d.c_event), sum(d.c_debt)
		FROM usage_daily d` + where + ` GROUP BY ` + key
	return q, args
}

// Aggregate sums rollup rows grouped by one dimension (see aggKeys).
func (c *Conn) Aggregate(ctx context.Context, by string, f AggFilter) ([]AggRow, error) {
	key, ok := aggKeys[by]
	if !ok {
		return nil, fmt.Errorf("db: unknown aggregate key %q", by)
	}
	q, args := aggregateQuery(key, f)
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AggRow
	for rows.Next() {
		var r AggRow
		var key any
		if err := rows.Scan(&key, &r.Requests, &r.Credits, &r.Tokens, &r.Kinds.Subscription, &r.Kinds.Addon, &r.Kinds.Event, &r.Kinds.Debt); err != nil {
			return nil, err
		}
		switch k := key.(type) {
		case int64:
			r.Key = strconv.FormatInt(k, 10)
			if by == "source" && k == 0 {
				r.Key = "personal"
			}
		case string:
			r.Key = k
		case []byte:
			r.Key = string(k)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if by == "day" {
		sort.Slice(out, func(i, j int) bool {
			a, _ := strconv.ParseInt(out[i].Key, 10, 64)
			b, _ := strconv.ParseInt(out[j].Key, 10, 64)
			return a < b
		})
	} else {
		sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	}
	return out, nil
}

// FacetScope picks whose rollups facets come from: a member's own usage, or the usage billed
// to the delegations a granter gave.
type FacetScope struct {
	UserID, GranterID int64
}

func (s FacetScope) where() (string, int64) {
	if s.GranterID != 0 {
		return "delegation_id IN (SELECT id FROM delegations WHERE granter_id = ?)", s.GranterID
	}
	return "user_id = ?", s.UserID
}

// Facets lists the distinct values seen in rollups, for filter menus.
func (c *Conn) Facets(ctx context.Context, scope FacetScope, col string) ([]string, error) {
	allowed := map[string]bool{"model": true, "provider": true, "usage_type": true, "project": true, "modality": true}
	if !allowed[col] {
		return nil, fmt.Errorf("db: unknown facet %q", col)
	}
	cond, arg := scope.where()
	rows, err := c.query(ctx, `SELECT DISTINCT `+col+` FROM usage_daily WHERE `+cond+` AND `+col+` != '' ORDER BY 1`, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// FacetAppIDs lists the app ids seen in rollups.
func (c *Conn) FacetAppIDs(ctx context.Context, scope FacetScope) ([]int64, error) {
	cond, arg := scope.where()
	return c.ids(ctx, `SELECT DISTINCT app_id FROM usage_daily WHERE `+cond+` AND app_id != 0 ORDER BY 1`, arg)
}

// AllowanceByCycle sums the Monthly credits granted to a member per cycle (YYYYMM).
func (c *Conn) AllowanceByCycle(ctx context.Context, userID, fromCycle, toCycle int64) (map[int64]int64, error) {
	rows, err := c.query(ctx, `SELECT cycle, sum(granted) FROM buckets WHERE user_id = ? AND kind = 'subscription' AND cycle BETWEEN ? AND ? GROUP BY cycle`, userID, fromCycle, toCycle)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var cy, n int64
		if err := rows.Scan(&cy, &n); err != nil {
			return nil, err
		}
		out[cy] = n
	}
	return out, rows.Err()
}

// AllowanceDayRow is what one allowance paid of a member's usage on one day.
type AllowanceDayRow struct {
	Day          int64
	DelegationID int64
	Credits      int64
	Kinds        KindSplit
}

// PaidByAllowances sums, by day and allowance, the rollup rows of f that an allowance paid
// (the rows with a delegation). A split charge's rows each carry their own source, so an
// allowance's share and the member's own share of one request land in different rows.
func (c *Conn) PaidByAllowances(ctx context.Context, f AggFilter) ([]AllowanceDayRow, error) {
	switch f.Source {
	case "personal":
		return nil, nil
	case "":
		f.Source = "delegated"
	}
	q, args := aggregateQuery("d.day, d.delegation_id", f)
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AllowanceDayRow
	for rows.Next() {
		var r AllowanceDayRow
		var requests, tokens int64
		if err := rows.Scan(&r.Day, &r.DelegationID, &requests, &r.Credits, &tokens, &r.Kinds.Subscription, &r.Kinds.Addon, &r.Kinds.Event, &r.Kinds.Debt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

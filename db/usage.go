package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// UsageEvent is one reported AI request.
type UsageEvent struct {
	ID               int64
	UserID           int64
	PayerID          int64
	DelegationID     sql.NullInt64
	AppID            sql.NullInt64
	At               int64
	Day              int64
	RecordedAt       int64
	Description      string
	ShortDescription string
	UsageType        string
	Model            string
	Provider         string
	Modality         string
	InputTokens      int64
	OutputTokens     int64
	TotalTokens      int64
	ProcessingTimeMs sql.NullInt64
	ModelParameters  sql.NullString
	InternalUnits    sql.NullString
	Project          string
	CostUSD          sql.NullString
	Credits          int64
	Debt             int64
	Charged          bool
	SourceNote       string
	RefundedAt       sql.NullInt64
	IdemScope        sql.NullString
	IdemKey          sql.NullString
	// DelegationCredits is what the event's delegation paid of a split charge (NULL: all of it).
	DelegationCredits sql.NullInt64
	Gateway           GatewayMeter

	// Joined for display.
	UserName, UserEmail string
	AppSlug, AppName    sql.NullString
}

const usageCols = `e.id, e.user_id, e.payer_id, e.delegation_id, e.app_id, e.at, e.day, e.recorded_at, e.description,
	e.short_description, e.usage_type, e.model, e.provider, e.modality, e.input_tokens, e.output_tokens, e.total_tokens,
	e.processing_time_ms, e.model_parameters, e.internal_units, e.project, e.cost_usd, e.credits, e.debt, e.charged,
	e.source_note, e.refunded_at, e.idem_scope, e.idem_key, e.delegation_credits, e.cached_input_tokens,
	e.cache_write_tokens, e.reasoning_tokens, e.estimated, e.over_hold, e.price_input_micro, e.price_output_micro,
	e.price_cached_micro, e.price_cache_write_micro, e.price_per_image_micro, u.name, u.email, a.slug, a.name`

const usageFrom = ` FROM usage_events e JOIN users u ON u.id = e.user_id LEFT JOIN apps a ON a.id = e.app_id`

func scanUsage(row interface{ Scan(...any) error }) (UsageEvent, error) {
	var e UsageEvent
	g := &e.Gateway
	err := row.Scan(&e.ID, &e.UserID, &e.PayerID, &e.DelegationID, &e.AppID, &e.At, &e.Day, &e.RecordedAt, &e.Description,
		&e.ShortDescription, &e.UsageType, &e.Model, &e.Provider, &e.Modality, &e.InputTokens, &e.OutputTokens, &e.TotalTokens,
		&e.ProcessingTimeMs, &e.ModelParameters, &e.InternalUnits, &e.Project, &e.CostUSD, &e.Credits, &e.Debt, &e.Charged,
		&e.SourceNote, &e.RefundedAt, &e.IdemScope, &e.IdemKey, &e.DelegationCredits, &g.CachedInputTokens,
		&g.CacheWriteTokens, &g.ReasoningTokens, &g.Estimated, &g.OverHold, &g.PriceInput, &g.PriceOutput,
		&g.PriceCached, &g.PriceCacheWrite, &g.PricePerImage, &e.UserName, &e.UserEmail, &e.AppSlug, &e.AppName)
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNotFound
	}
	return e, err
}

func (c *Conn) InsertUsage(ctx context.Context, e UsageEvent) (int64, error) {
	g := e.Gateway
	return c.insertID(ctx, `INSERT INTO usage_events(user_id, payer_id, delegation_id, app_id, at, day, recorded_at,
		description, short_description, usage_type, model, provider, modality, input_tokens, output_tokens, total_tokens,
		processing_time_ms, model_parameters, internal_units, project, cost_usd, credits, debt, charged, source_note, idem_scope, idem_key,
		delegation_credits, cached_input_tokens, cache_write_tokens, reasoning_tokens, estimated, over_hold,
		price_input_micro, price_output_micro, price_cached_micro, price_cache_write_micro, price_per_image_micro)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.UserID, e.PayerID, e.DelegationID, e.AppID, e.At, e.Day, e.RecordedAt,
		e.Description, e.ShortDescription, e.UsageType, e.Model, e.Provider, e.Modality, e.InputTokens, e.OutputTokens, e.TotalTokens,
		e.ProcessingTimeMs, e.ModelParameters, e.InternalUnits, e.Project, e.CostUSD, e.Credits, e.Debt, e.Charged, e.SourceNote, e.IdemScope, e.IdemKey,
		e.DelegationCredits, g.CachedInputTokens, g.CacheWriteTokens, g.ReasoningTokens, g.Estimated, g.OverHold,
		g.PriceInput, g.PriceOutput, g.PriceCached, g.PriceCacheWrite, g.PricePerImage)
}

const insertUsageOnceSQL = `INSERT INTO usage_events(user_id, payer_id, delegation_id, app_id, at, day, recorded_at,
		description, short_description, usage_type, model, provider, modality, input_tokens, output_tokens, total_tokens,
		processing_time_ms, model_parameters, internal_units, project, cost_usd, credits, debt, charged, source_note, idem_scope, idem_key,
		delegation_credits, cached_input_tokens, cache_write_tokens, reasoning_tokens, estimated, over_hold,
		price_input_micro, price_output_micro, price_cached_micro, price_cache_write_micro, price_per_image_micro)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (idem_scope, idem_key) WHERE idem_key IS NOT NULL DO NOTHING`

// InsertUsageOnce inserts an event unless its idempotency key is taken; inserted is false then.
//
// It reads the new id from the statement's result, not from RETURNING: SQLite runs RETURNING
// as a trigger, which makes the insert keep a statement journal (a copy of every page it
// touches) inside the writer's transaction.
func (c *Conn) InsertUsageOnce(ctx context.Context, e UsageEvent) (id int64, inserted bool, err error) {
	g := e.Gateway
	args := []any{e.UserID, e.PayerID, e.DelegationID, e.AppID, e.At, e.Day, e.RecordedAt,
		e.Description, e.ShortDescription, e.UsageType, e.Model, e.Provider, e.Modality, e.InputTokens, e.OutputTokens, e.TotalTokens,
		e.ProcessingTimeMs, e.ModelParameters, e.InternalUnits, e.Project, e.CostUSD, e.Credits, e.Debt, e.Charged, e.SourceNote, e.IdemScope, e.IdemKey,
		e.DelegationCredits, g.CachedInputTokens, g.CacheWriteTokens, g.ReasoningTokens, g.Estimated, g.OverHold,
		g.PriceInput, g.PriceOutput, g.PriceCached, g.PriceCacheWrite, g.PricePerImage}
	if c.pg {
		// No row back means the key was taken (DO NOTHING).
		err = c.queryRow(ctx, insertUsageOnceSQL+" RETURNING id", args...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, false, nil
		}
		return id, err == nil, err
	}
	res, err := c.exec(ctx, insertUsageOnceSQL, args...)
	if err != nil {
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, false, err
	}
	id, err = res.LastInsertId()
	return id, err == nil, err
}

func (c *Conn) SetUsageDebt(ctx context.Context, id, debt int64) error {
	_, err := c.exec(ctx, `UPDATE usage_events SET debt = ? WHERE id = ?`, debt, id)
	return err
}

func (c *Conn) MarkRefunded(ctx context.Context, id, at int64) error {
	_, err := c.exec(ctx, `UPDATE usage_events SET refunded_at = ? WHERE id = ?`, at, id)
	return err
}

func (c *Conn) UsageByID(ctx context.Context, id int64) (UsageEvent, error) {
	return scanUsage(c.queryRow(ctx, `SELECT `+usageCols+usageFrom+` WHERE e.id = ?`, id))
}

// UsageByIdempotencyKey finds the event an app (or member) already reported under key.
func (c *Conn) UsageByIdempotencyKey(ctx context.Context, scope, key string) (UsageEvent, error) {
	return scanUsage(c.queryRow(ctx, `SELECT `+usageCols+usageFrom+` WHERE e.idem_scope = ? AND e.idem_key = ?`, scope, key))
}

// UsageFilter selects usage events. Zero values mean "any".
type UsageFilter struct {
	UserID    int64 // events of this member
	GranterID int64 // events billed to delegations this member granted (which this member paid)
	From, To  int64 // from <= at < to, unix ms; 0 = open
	AppID     int64
	Model     string
	Provider  string
	UsageType string
	Project   string
	Modality  string
	// Source: "" any, "personal", "delegated" (any delegation), or "delegation" with DelegationID.
	Source       string
	DelegationID int64

	// GranterShares adds, for GranterID, the split charges a later allowance of theirs paid a
	// share of (usage_sources): the event names only its first allowance.
	GranterShares bool

	Sort   string // "at", "credits" or "total_tokens"
	Asc    bool
	Limit  int
	After  *Cursor
	AtOnly bool

	// models, set by withSortModels, makes an order by credits or tokens with no model
	// filter a merge of one walk per model.
	models []string
	// limitArms (PostgreSQL) gives each walk of the merge its own ORDER BY and LIMIT: without
	// them PostgreSQL's planner reads every matching row of each model and sorts them all
	// (seconds for a member with 100,000s of events) instead of merging the index walks.
	limitArms bool
}

// Cursor is a keyset position: the sort value and id of the last row of the previous page.
type Cursor struct {
	Value int64
	ID    int64
}

func (f UsageFilter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if f.UserID != 0 {
		add("e.user_id = ?", f.UserID)
	}
	if f.GranterID != 0 {
		// Events billed to my delegations are the delegated events I paid for.
		if f.GranterShares {
			add("(e.payer_id = ? AND e.delegation_id IS NOT NULL OR e.id IN ("+granterSharesSQL+"))", f.GranterID, f.GranterID)
		} else {
			add("e.payer_id = ? AND e.delegation_id IS NOT NULL", f.GranterID)
		}
	}
	if f.From != 0 {
		add("e.at >= ?", f.From)
	}
	if f.To != 0 {
		add("e.at < ?", f.To)
	}
	if f.AppID != 0 {
		add("e.app_id = ?", f.AppID)
	}
	for _, kv := range []struct{ col, v string }{{"e.model", f.Model}, {"e.provider", f.Provider}, {"e.usage_type", f.UsageType}, {"e.project", f.Project}, {"e.modality", f.Modality}} {
		if kv.v != "" {
			add(kv.col+" = ?", kv.v)
		}
	}
	switch f.Source {
	case "personal":
		add("e.delegation_id IS NULL")
	case "delegation":
		if f.GranterShares {
			// A later share of a split charge is billed to this allowance too.
			add("(e.delegation_id = ? OR e.id IN (SELECT usage_id FROM usage_sources WHERE delegation_id = ?))", f.DelegationID, f.DelegationID)
		} else {
			add("e.delegation_id = ?", f.DelegationID)
		}
	case "delegated":
		add("e.delegation_id IS NOT NULL")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (f UsageFilter) sortCol() string {
	switch f.Sort {
	case "credits":
		return "e.credits"
	case "total_tokens":
		return "e.total_tokens"
	default:
		return "e.at"
	}
}

// SortValue returns the value of e's sort column, for building the next cursor.
func (f UsageFilter) SortValue(e UsageEvent) int64 {
	switch f.Sort {
	case "credits":
		return e.Credits
	case "total_tokens":
		return e.TotalTokens
	default:
		return e.At
	}
}

func (f UsageFilter) query() (string, []any) { return f.selectFrom(usageCols, usageFrom) }

// merged reports whether f's query is a merge of per-model walks; its rows then carry two more
// columns, the sort value and the id.
func (f UsageFilter) merged() bool { return len(f.models) > 0 }

// selectFrom selects cols from (usage_events e, and whatever from joins) for the events f
// matches, in f's order.
func (f UsageFilter) selectFrom(cols, from string) (string, []any) {
	where, args := f.where()
	col := f.sortCol()
	dir, cmp := "DESC", "<"
	if f.Asc {
		dir, cmp = "ASC", ">"
	}
	if f.After != nil {
		cond := "(" + col + ", e.id) " + cmp + " (?, ?)"
		if where == "" {
			where = " WHERE " + cond
		} else {
			where += " AND " + cond
		}
		args = append(args, f.After.Value, f.After.ID)
	}
	var q string
	if f.merged() {
		// The orders by credits and tokens lead with the model (migration 0012): each model's
		// events are one range in order, and SQLite merges the ranges as it reads them.
		arms := make([]string, len(f.models))
		all := make([]any, 0, len(f.models)*(len(args)+1)+1)
		for i, m := range f.models {
			arms[i] = `SELECT ` + cols + `, ` + col + ` AS sort_v, e.id AS sort_id` + from + where + ` AND e.model = ?`
			all = append(append(all, args...), m)
			if f.limitArms && f.Limit > 0 {
				arms[i] = `(` + arms[i] + ` ORDER BY ` + col + ` ` + dir + `, e.id ` + dir + ` LIMIT ?)`
				all = append(all, f.Limit)
			}
		}
		q, args = strings.Join(arms, " UNION ALL ")+` ORDER BY sort_v `+dir+`, sort_id `+dir, all
	} else {
		q = `SELECT ` + cols + from + where + ` ORDER BY ` + col + ` ` + dir + `, e.id ` + dir
	}
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args
}

// withSortModels prepares an order by credits or tokens with no model filter: it lists the
// models of the member (or the granter's delegated events) for the merge. It skips from one
// model to the next in the sort index, a seek per model.
func (c *Conn) withSortModels(ctx context.Context, f UsageFilter) (UsageFilter, error) {
	if f.sortCol() == "e.at" || f.Model != "" || (f.UserID == 0 && f.GranterID == 0) {
		return f, nil
	}
	q, args := f.sortModelsQuery()
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return f, err
	}
	defer rows.Close()
	f.models, f.limitArms = nil, c.pg
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return f, err
		}
		f.models = append(f.models, m)
	}
	return f, rows.Err()
}

func (f UsageFilter) sortModelsQuery() (string, []any) {
	cond, args := "user_id = ?", []any{f.UserID}
	if f.GranterID != 0 {
		cond, args = "payer_id = ? AND delegation_id IS NOT NULL", []any{f.GranterID}
		if f.GranterShares {
			cond, args = "(payer_id = ? AND delegation_id IS NOT NULL OR id IN ("+granterSharesSQL+"))", []any{f.GranterID, f.GranterID}
		}
	}
	return `WITH RECURSIVE m(model) AS (
		SELECT (SELECT min(model) FROM usage_events WHERE ` + cond + `)
		UNION ALL
		SELECT (SELECT min(model) FROM usage_events WHERE ` + cond + ` AND model > m.model) FROM m WHERE m.model IS NOT NULL)
		SELECT model FROM m WHERE model IS NOT NULL`, append(args, args...)
}

// granterSharesSQL selects the split charges a granter's allowances paid a share of (one
// argument: the granter).
const granterSharesSQL = `SELECT usage_id FROM usage_sources WHERE payer_id = ? AND delegation_id != 0`

// HasLaterShares reports whether an allowance of the granter paid a share of a split charge
// that names another source first: only then does the granted log look past the event's own
// payer (UsageFilter.GranterShares), so other granters keep the plain, indexed walk.
func (c *Conn) HasLaterShares(ctx context.Context, granterID int64) (bool, error) {
	var found bool // SQLite answers 1 or 0, PostgreSQL a boolean: both scan into a bool
	err := c.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM usage_sources s JOIN usage_events e ON e.id = s.usage_id
		WHERE s.payer_id = ? AND s.delegation_id != 0 AND e.payer_id != ?)`, granterID, granterID).Scan(&found)
	return found, err
}

// GranterShare is what a granter's allowances paid of a split charge, and the allowance (the
// first of theirs that paid); found is false when they paid no share.
func (c *Conn) GranterShare(ctx context.Context, usageID, granterID int64) (delegationID, credits int64, found bool, err error) {
	var n int64
	err = c.queryRow(ctx, `SELECT coalesce(min(delegation_id), 0), coalesce(sum(credits), 0), count(*) FROM usage_sources
		WHERE usage_id = ? AND payer_id = ? AND delegation_id != 0`, usageID, granterID).Scan(&delegationID, &credits, &n)
	return delegationID, credits, n > 0, err
}

// mergedRow scans a merged query's row, dropping its two sort columns.
type mergedRow struct{ rows *sql.Rows }

func (r mergedRow) Scan(dest ...any) error {
	var v, id int64
	return r.rows.Scan(append(dest, &v, &id)...)
}

// ListUsage returns one page of events.
func (c *Conn) ListUsage(ctx context.Context, f UsageFilter) ([]UsageEvent, error) {
	var out []UsageEvent
	err := c.EachUsage(ctx, f, func(e UsageEvent) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// EachUsage streams every matching event to fn without holding them in memory.
func (c *Conn) EachUsage(ctx context.Context, f UsageFilter, fn func(UsageEvent) error) error {
	f, err := c.withSortModels(ctx, f)
	if err != nil {
		return err
	}
	q, args := f.query()
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var row interface{ Scan(...any) error } = rows
	if f.merged() {
		row = mergedRow{rows}
	}
	for rows.Next() {
		e, err := scanUsage(row)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

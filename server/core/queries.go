package core

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"tokenjar/db"
)

// UsageItem is a usage event as the API shows it.
type UsageItem struct {
	ID                      int64           `json:"id"`
	At                      string          `json:"at"`
	UserID                  int64           `json:"userId"`
	UserName                string          `json:"userName"`
	UserEmail               string          `json:"userEmail"`
	AppID                   *int64          `json:"appId"`
	AppSlug                 string          `json:"appSlug"`
	AppName                 string          `json:"appName"`
	Description             string          `json:"description"`
	ShortDescription        string          `json:"shortDescription"`
	UsageType               string          `json:"usageType"`
	Model                   string          `json:"model"`
	Provider                string          `json:"provider"`
	Modality                string          `json:"modality"`
	InputTokens             int64           `json:"inputTokens"`
	OutputTokens            int64           `json:"outputTokens"`
	TotalTokens             int64           `json:"totalTokens"`
	ProcessingTimeMs        *int64          `json:"processingTimeMs"`
	Project                 string          `json:"project"`
	BillingSource           string          `json:"billingSource"`
	DelegationID            *int64          `json:"delegationId"`
	SourceNote              string          `json:"sourceNote,omitempty"`
	CostUSD                 json.RawMessage `json:"costUsd"`
	Credits                 Credits         `json:"credits"`
	Charged                 bool            `json:"charged"`
	Debt                    Credits         `json:"debt"`
	Refunded                bool            `json:"refunded"`
	ModelParameters         json.RawMessage `json:"modelParameters"`
	InternalTokensOrCredits json.RawMessage `json:"internalTokensOrCredits"`
	IdempotencyKey          string          `json:"idempotencyKey,omitempty"`
	// DelegationCredits is what the event's delegation paid of a split charge; null when it paid
	// all of it (or there is none). The rest went to the next sources (SPEC 5).
	DelegationCredits *Credits `json:"delegationCredits"`
	// Gateway metering (SPEC 10); zero for reported usage.
	CachedInputTokens int64        `json:"cachedInputTokens"`
	CacheWriteTokens  int64        `json:"cacheWriteTokens"`
	ReasoningTokens   int64        `json:"reasoningTokens"`
	Estimated         bool         `json:"estimated"`
	OverHold          bool         `json:"overHold"`
	Prices            *EventPrices `json:"prices"` // null unless the gateway priced it

	// payerID is who paid, for routing live events; not shown.
	payerID int64
}

// EventPrices are the prices a gateway event was charged at: USD per million tokens, per image.
type EventPrices struct {
	Input       MicroUSD  `json:"input"`
	Output      MicroUSD  `json:"output"`
	CachedInput MicroUSD  `json:"cachedInput"`
	CacheWrite  MicroUSD  `json:"cacheWrite"`
	PerImage    *MicroUSD `json:"perImage"`
}

func eventPrices(g db.GatewayMeter) *EventPrices {
	if !g.PriceInput.Valid {
		return nil
	}
	p := &EventPrices{Input: MicroUSD(g.PriceInput.Int64), Output: MicroUSD(g.PriceOutput.Int64),
		CachedInput: MicroUSD(g.PriceCached.Int64), CacheWrite: MicroUSD(g.PriceCacheWrite.Int64)}
	if g.PricePerImage.Valid {
		v := MicroUSD(g.PricePerImage.Int64)
		p.PerImage = &v
	}
	return p
}

var jsonNull = json.RawMessage("null")

func rawOrNull(v string, ok bool) json.RawMessage {
	if !ok || v == "" {
		return jsonNull
	}
	return json.RawMessage(v)
}

func (s *Service) usageItem(_ context.Context, e db.UsageEvent) UsageItem {
	it := UsageItem{ID: e.ID, At: fromMS(e.At).Format(time.RFC3339Nano), UserID: e.UserID, UserName: e.UserName, UserEmail: e.UserEmail,
		AppSlug: e.AppSlug.String, AppName: e.AppName.String, Description: e.Description, ShortDescription: e.ShortDescription,
		UsageType: e.UsageType, Model: e.Model, Provider: e.Provider, Modality: e.Modality,
		InputTokens: e.InputTokens, OutputTokens: e.OutputTokens, TotalTokens: e.TotalTokens, Project: e.Project,
		BillingSource: sourceName(e.DelegationID), SourceNote: e.SourceNote,
		CostUSD: rawOrNull(e.CostUSD.String, e.CostUSD.Valid), Credits: Credits(e.Credits), Charged: e.Charged,
		Debt: Credits(e.Debt), Refunded: e.RefundedAt.Valid,
		ModelParameters:         rawOrNull(e.ModelParameters.String, e.ModelParameters.Valid),
		InternalTokensOrCredits: rawOrNull(e.InternalUnits.String, e.InternalUnits.Valid),
		IdempotencyKey:          e.IdemKey.String, payerID: e.PayerID}
	if e.AppID.Valid {
		v := e.AppID.Int64
		it.AppID = &v
	}
	if e.DelegationID.Valid {
		v := e.DelegationID.Int64
		it.DelegationID = &v
	}
	if e.ProcessingTimeMs.Valid {
		v := e.ProcessingTimeMs.Int64
		it.ProcessingTimeMs = &v
	}
	if e.DelegationCredits.Valid {
		v := Credits(e.DelegationCredits.Int64)
		it.DelegationCredits = &v
	}
	g := e.Gateway
	it.CachedInputTokens, it.CacheWriteTokens, it.ReasoningTokens = g.CachedInputTokens, g.CacheWriteTokens, g.ReasoningTokens
	it.Estimated, it.OverHold = g.Estimated, g.OverHold
	it.Prices = eventPrices(g)
	if it.AppSlug == "" && e.AppID.Valid {
		if a, err := s.db.Read().AppByID(context.Background(), e.AppID.Int64); err == nil {
			it.AppSlug, it.AppName = a.Slug, a.Name
		}
	}
	return it
}

// UsageQuery is the filter set of the usage list, export and aggregates, as given in a URL.
type UsageQuery struct {
	From, To, App, Model, Provider, UsageType, Project, Source, Modality, Member string
	Limit, Cursor, Sort, By, Scope                                               string
}

// Range is a resolved time range; zero times are open ends.
type Range struct {
	From, To time.Time
}

// parseInstant reads RFC 3339 or YYYY-MM-DD (a whole day in the instance time zone; as the
// end of a range it means the end of that day).
func parseInstant(field, v string, end bool, loc *time.Location) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation("2006-01-02", v, loc)
	if err != nil {
		return time.Time{}, Invalid(field, "%s must be RFC 3339 or YYYY-MM-DD", field)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

type resolvedQuery struct {
	f      db.UsageFilter
	agg    db.AggFilter
	member int64
}

func (s *Service) resolveQuery(ctx context.Context, q UsageQuery) (resolvedQuery, error) {
	loc := s.Settings().Location
	var r resolvedQuery
	from, err := parseInstant("from", q.From, false, loc)
	if err != nil {
		return r, err
	}
	to, err := parseInstant("to", q.To, true, loc)
	if err != nil {
		return r, err
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return r, Invalid("to", "to must be after from")
	}
	if !from.IsZero() {
		r.f.From = ms(from)
		r.agg.HasFrom, r.agg.FromDay = true, DayOf(from, loc)
		if DayStart(r.agg.FromDay, loc).Before(from) {
			r.agg.FromDay++ // rollups count whole days: a partial first day is left out
		}
	}
	if !to.IsZero() {
		r.f.To = ms(to)
		r.agg.HasTo, r.agg.ToDay = true, DayOf(to.Add(-time.Millisecond), loc)
		if !DayStart(r.agg.ToDay+1, loc).Equal(to) {
			r.agg.ToDay-- // a partial last day is left out
		}
	}
	if q.App != "" {
		a, err := s.appByRef(ctx, q.App)
		if errors.Is(err, db.ErrNotFound) {
			a.ID = -1 // unknown app: matches nothing
		} else if err != nil {
			return r, err
		}
		r.f.AppID, r.agg.AppID = a.ID, a.ID
	}
	r.f.Model, r.agg.Model = q.Model, q.Model
	r.f.Provider, r.agg.Provider = q.Provider, q.Provider
	r.f.UsageType, r.agg.UsageType = q.UsageType, q.UsageType
	r.f.Project, r.agg.Project = q.Project, q.Project
	r.f.Modality, r.agg.Modality = q.Modality, q.Modality
	switch q.Source {
	case "":
	case "personal", "delegated":
		r.f.Source, r.agg.Source = q.Source, q.Source
	default:
		id, err := strconv.ParseInt(q.Source, 10, 64)
		if err != nil || id <= 0 {
			return r, Invalid("source", `source must be "personal", "delegated" or a delegation id`)
		}
		r.f.Source, r.f.DelegationID = "delegation", id
		r.agg.Source, r.agg.DelegationID = "delegation", id
	}
	if q.Member != "" {
		id, err := strconv.ParseInt(q.Member, 10, 64)
		if err != nil || id <= 0 {
			return r, Invalid("member", "member must be a member id")
		}
		r.member = id
	}
	if q.Limit != "" {
		n, err := strconv.Atoi(q.Limit)
		if err != nil || n < 1 || n > 500 {
			return r, Invalid("limit", "limit must be 1 to 500")
		}
		r.f.Limit = n
	} else {
		r.f.Limit = 50
	}
	switch strings.TrimPrefix(q.Sort, "-") {
	case "", "at":
		r.f.Sort = "at"
	case "credits":
		r.f.Sort = "credits"
	case "totalTokens":
		r.f.Sort = "total_tokens"
	default:
		return r, Invalid("sort", "sort must be at, credits or totalTokens, with - for descending")
	}
	r.f.Asc = q.Sort != "" && !strings.HasPrefix(q.Sort, "-")
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return r, Invalid("cursor", "cursor is not one this server made")
		}
		r.f.After = &c
	}
	return r, nil
}

func encodeCursor(c db.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%d", c.Value, c.ID)))
}

func decodeCursor(s string) (db.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return db.Cursor{}, err
	}
	v, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return db.Cursor{}, errors.New("bad cursor")
	}
	var c db.Cursor
	if c.Value, err = strconv.ParseInt(v, 10, 64); err != nil {
		return c, err
	}
	c.ID, err = strconv.ParseInt(id, 10, 64)
	return c, err
}

// scope restricts a query to what the caller may see. own: the caller's events; granted:
// events billed to delegations the caller granted (member filters by grantee).
func (s *Service) scope(p Principal, r *resolvedQuery, granted bool) error {
	if err := p.requireUser(); err != nil {
		return err
	}
	if granted {
		r.f.GranterID = p.UserID
		r.agg.GranterID = p.UserID
		if r.member != 0 {
			r.f.UserID, r.agg.GranteeID = r.member, r.member
		}
		return nil
	}
	if r.member != 0 && r.member != p.UserID {
		return &Error{Code: EFORBIDDEN, Message: "per-request logs show only your own usage; see Granted usage for your delegations", Field: "member"}
	}
	r.f.UserID, r.agg.UserID = p.UserID, p.UserID
	return nil
}

// UsagePage is one page of the usage log.
type UsagePage struct {
	Items      []UsageItem `json:"items"`
	NextCursor *string     `json:"nextCursor"`
}

// ListUsage returns a page of the caller's own events, or (granted) of events billed to the
// caller's delegations.
func (s *Service) ListUsage(ctx context.Context, p Principal, q UsageQuery, granted bool) (UsagePage, error) {
	r, err := s.resolveQuery(ctx, q)
	if err != nil {
		return UsagePage{}, err
	}
	if err := s.scope(p, &r, granted); err != nil {
		return UsagePage{}, err
	}
	if err := s.withGranterShares(ctx, &r); err != nil {
		return UsagePage{}, err
	}
	r.f.Limit++ // one extra row tells whether there is a next page
	page := UsagePage{Items: []UsageItem{}}
	if empty, err := s.pruneByRollups(ctx, &r); err != nil {
		return UsagePage{}, err
	} else if empty {
		return page, nil
	}
	evs, err := s.db.Read().ListUsage(ctx, r.f)
	if err != nil {
		return UsagePage{}, err
	}
	if len(evs) == r.f.Limit {
		evs = evs[:len(evs)-1]
		last := evs[len(evs)-1]
		c := encodeCursor(db.Cursor{Value: r.f.SortValue(last), ID: last.ID})
		page.NextCursor = &c
	}
	for _, e := range evs {
		it := s.usageItem(ctx, e)
		if granted {
			if it, err = s.grantedItem(ctx, p.UserID, it); err != nil {
				return UsagePage{}, err
			}
		}
		page.Items = append(page.Items, it)
	}
	return page, nil
}

// pruneByRollups narrows a filtered, time-ordered page with the per-day rollups: they tell
// which days hold matching events, so a filter that matches nothing answers at once and one
// that matches sparsely scans back only as far as the page needs, not the whole history.
// A first page in another order learns from them only whether anything matches: walked by
// credits, a filter that matches nothing would read the member's whole sort index.
func (s *Service) pruneByRollups(ctx context.Context, r *resolvedQuery) (empty bool, err error) {
	f := r.f
	filtered := f.AppID != 0 || f.Model != "" || f.Provider != "" || f.UsageType != "" || f.Project != "" || f.Modality != "" || f.Source != "" ||
		(f.GranterID != 0 && f.UserID != 0) // one grantee among a granter's delegated events
	if !filtered {
		return false, nil
	}
	loc := s.Settings().Location
	if f.Sort != "at" || f.Asc {
		// A model alone is one range of the sort index (db.UsageFilter.selectFrom): an empty
		// one costs a seek, less than asking the rollups.
		onlyModel := f.AppID == 0 && f.Provider == "" && f.UsageType == "" && f.Project == "" && f.Modality == "" && f.Source == "" &&
			!(f.GranterID != 0 && f.UserID != 0)
		if f.After != nil || onlyModel {
			return false, nil
		}
		agg := r.agg
		agg.HasFrom, agg.HasTo = f.From != 0, f.To != 0
		agg.FromDay, agg.ToDay = DayOf(fromMS(f.From), loc), DayOf(fromMS(f.To-1), loc)
		days, err := s.db.Read().Aggregate(ctx, "day", agg)
		return len(days) == 0, err
	}
	agg := r.agg
	// Unlike chart ranges, partial first and last days count here.
	agg.HasFrom, agg.HasTo = f.From != 0, f.To != 0
	if agg.HasFrom {
		agg.FromDay = DayOf(fromMS(f.From), loc)
	}
	if agg.HasTo {
		agg.ToDay = DayOf(fromMS(f.To-1), loc)
	}
	if f.After != nil {
		agg.HasTo, agg.ToDay = true, DayOf(fromMS(f.After.Value), loc)
	}
	var cursorDay int64
	if f.After != nil {
		// Rows on the cursor's own day may already be on earlier pages, so only older days
		// count towards the page; the cursor's day stays inside the scanned range.
		cursorDay = DayOf(fromMS(f.After.Value), loc)
		agg.HasTo, agg.ToDay = true, cursorDay-1
	}
	days, err := s.db.Read().Aggregate(ctx, "day", agg)
	if err != nil {
		return false, err
	}
	if len(days) == 0 && f.After == nil {
		return true, nil
	}
	boundDay := cursorDay
	if len(days) > 0 {
		first, _ := strconv.ParseInt(days[0].Key, 10, 64)
		boundDay = first // fewer matches than a page: back to the first matching day
	}
	need := int64(f.Limit)
	for i := len(days) - 1; i >= 0; i-- {
		if need -= days[i].Requests; need <= 0 {
			boundDay, _ = strconv.ParseInt(days[i].Key, 10, 64)
			break
		}
	}
	// One day of slack: each day number was taken in the time zone of the day it was written.
	if bound := ms(DayStart(boundDay-1, loc)); bound > r.f.From {
		r.f.From = bound
	}
	return false, nil
}

// exportFilter resolves an export query: every event the caller may see that it selects, no limit.
func (s *Service) exportFilter(ctx context.Context, p Principal, q UsageQuery, granted bool) (db.UsageFilter, error) {
	q.Limit, q.Cursor = "", ""
	r, err := s.resolveQuery(ctx, q)
	if err != nil {
		return db.UsageFilter{}, err
	}
	if err := s.scope(p, &r, granted); err != nil {
		return db.UsageFilter{}, err
	}
	if err := s.withGranterShares(ctx, &r); err != nil {
		return db.UsageFilter{}, err
	}
	r.f.Limit = 0
	return r.f, nil
}

// EachUsage streams every event a query selects (no limit) for export.
func (s *Service) EachUsage(ctx context.Context, p Principal, q UsageQuery, granted bool, fn func(UsageItem) error) error {
	f, err := s.exportFilter(ctx, p, q, granted)
	if err != nil {
		return err
	}
	return s.db.Read().EachUsage(ctx, f, func(e db.UsageEvent) error {
		it := s.usageItem(ctx, e)
		if granted {
			if it, err = s.grantedItem(ctx, p.UserID, it); err != nil {
				return err
			}
		}
		return fn(it)
	})
}

// UsageCSVColumns is the CSV export's header.
var UsageCSVColumns = db.CSVColumns

// GrantedCSVColumns is the granted export's header: allowanceCredits (what the granter's
// allowance paid) in place of credits, and requestCredits (the whole request) at the end.
var GrantedCSVColumns = db.GrantedCSVColumns

// CSVOut receives the CSV export (see db.CSVOut).
type CSVOut = db.CSVOut

// WriteUsageCSV writes the same rows as EachUsage to out, each as one CSV line (see
// db.WriteUsageCSV): an error before out.Start means the rows could not be opened.
func (s *Service) WriteUsageCSV(ctx context.Context, p Principal, q UsageQuery, granted bool, out CSVOut) error {
	f, err := s.exportFilter(ctx, p, q, granted)
	if err != nil {
		return err
	}
	return s.db.Read().WriteUsageCSV(ctx, f, out)
}

// CheckUsageQuery validates an export query up front, so errors come before streaming starts.
func (s *Service) CheckUsageQuery(ctx context.Context, p Principal, q UsageQuery, granted bool) error {
	_, err := s.exportFilter(ctx, p, q, granted)
	return err
}

// UsageDetail is one event with the bucket parts and ledger rows behind it.
type UsageDetail struct {
	UsageItem
	Parts  []Part      `json:"parts"`
	Ledger []LedgerRow `json:"ledger"`
}

// GetUsage returns one event to its member, or to the granter whose delegation paid for it.
func (s *Service) GetUsage(ctx context.Context, p Principal, id int64) (UsageDetail, error) {
	if err := p.requireUser(); err != nil {
		return UsageDetail{}, err
	}
	r := s.db.Read()
	e, err := r.UsageByID(ctx, id)
	if err == nil && e.UserID != p.UserID && !(e.DelegationID.Valid && e.PayerID == p.UserID) {
		// A granter whose allowance paid a later share of a split charge sees it too.
		var shared bool
		if shared, err = s.paidAShare(ctx, id, p.UserID); err == nil && !shared {
			err = db.ErrNotFound
		}
	}
	if errors.Is(err, db.ErrNotFound) {
		return UsageDetail{}, Errorf(ENOTFOUND, "no usage event %d", id)
	}
	if err != nil {
		return UsageDetail{}, err
	}
	rows, err := r.LedgerForUsage(ctx, id)
	if err != nil {
		return UsageDetail{}, err
	}
	d := UsageDetail{UsageItem: s.usageItem(ctx, e), Parts: []Part{}}
	if e.UserID != p.UserID {
		if d.UsageItem, err = s.grantedItem(ctx, p.UserID, d.UsageItem); err != nil {
			return UsageDetail{}, err
		}
	}
	// Each viewer reads only their own wallet's rows, with its balance after each: a split
	// charge's other rows are another member's. The parts still say what each source paid (as
	// they did before split charges, when the grantee saw the granter's parts).
	var own []db.LedgerRow
	payers := map[int64]string{e.PayerID: sourceName(e.DelegationID), e.UserID: "personal"}
	for _, row := range rows {
		if row.UserID == p.UserID {
			own = append(own, row)
		}
		if _, ok := payers[row.UserID]; !ok {
			payers[row.UserID] = "" // a later allowance of a split: named by the sources below
		}
	}
	if len(payers) > 2 {
		srcs, err := r.UsageSources(ctx, id)
		if err != nil {
			return UsageDetail{}, err
		}
		for _, x := range srcs {
			if payers[x.PayerID] == "" {
				payers[x.PayerID] = sourceName(sql.NullInt64{Int64: x.DelegationID, Valid: x.DelegationID != 0})
			}
		}
	}
	d.Ledger = ledgerRows(own)
	for _, row := range rows {
		if row.Action == "usage" && row.BucketID.Valid {
			d.Parts = append(d.Parts, Part{BucketID: row.BucketID.Int64, Kind: row.Kind, Credits: Credits(-row.Amount), Source: payers[row.UserID]})
		}
	}
	return d, nil
}

// BucketInfo is a bucket as the balance shows it.
type BucketInfo struct {
	ID        int64   `json:"id"`
	Kind      string  `json:"kind"`
	Remaining Credits `json:"remaining"`
	Granted   Credits `json:"granted"`
	GrantedAt string  `json:"grantedAt"`
	ExpiresAt *string `json:"expiresAt"`
	Note      string  `json:"note"`
}

// CycleInfo is this cycle against the plan allowance.
type CycleInfo struct {
	Start     string  `json:"start"`
	End       string  `json:"end"`
	Allowance Credits `json:"allowance"`
	Used      Credits `json:"used"`
	Requests  int64   `json:"requests"`
	// PaidForOthers is what the member's allowances paid for their grantees this cycle: it
	// came out of the same credits as Used, so "left" must count it too.
	PaidForOthers Credits `json:"paidForOthers"`
	// PaidFor splits PaidForOthers by grantee, so a page can say whose allowance it paid.
	PaidFor []PaidForMember `json:"paidFor"`
}

// Balance is a member's credits by bucket.
type Balance struct {
	Total   Credits      `json:"total"`
	Debt    Credits      `json:"debt"`
	Buckets []BucketInfo `json:"buckets"`
	Cycle   CycleInfo    `json:"cycle"`
	// Spending power (SPEC 5): available, reserved, allowances.
	SpendingPower
}

// Balance returns the live buckets of the caller, or of a member an app key names.
func (s *Service) Balance(ctx context.Context, p Principal, userID int64, email string) (Balance, error) {
	r := s.db.Read()
	var u db.User
	var err error
	switch {
	case p.Via == ViaAppKey:
		field := "userId"
		if userID != 0 {
			u, err = r.UserByID(ctx, userID)
		} else if email != "" {
			field = "userEmail"
			u, err = r.UserByEmail(ctx, email)
		} else {
			return Balance{}, Invalid("userId", "an app key must name the member: userId or userEmail")
		}
		if errors.Is(err, db.ErrNotFound) {
			return Balance{}, Invalid(field, "no such member")
		}
	case (userID != 0 && userID != p.UserID) || (email != "" && !strings.EqualFold(email, p.Email)):
		if !p.isAdmin() {
			return Balance{}, &Error{Code: EFORBIDDEN, Message: "you may read only your own balance", Field: "userId"}
		}
		if userID != 0 {
			u, err = r.UserByID(ctx, userID)
		} else {
			u, err = r.UserByEmail(ctx, email)
		}
		if errors.Is(err, db.ErrNotFound) {
			return Balance{}, Errorf(ENOTFOUND, "no such member")
		}
	default:
		if err := p.requireUser(); err != nil {
			return Balance{}, err
		}
		u, err = r.UserByID(ctx, p.UserID)
	}
	if err != nil {
		return Balance{}, err
	}
	return s.balanceOf(ctx, r, u)
}

func (s *Service) balanceOf(ctx context.Context, r *db.Conn, u db.User) (Balance, error) {
	now := s.clock.Now()
	bs, err := r.BucketsWithCredits(ctx, u.ID)
	if err != nil {
		return Balance{}, err
	}
	b := Balance{Debt: Credits(u.Debt), Buckets: []BucketInfo{}}
	var total int64
	for _, bk := range bs {
		if expired(bk, ms(now)) {
			continue
		}
		total += bk.Remaining
		b.Buckets = append(b.Buckets, BucketInfo{ID: bk.ID, Kind: bk.Kind, Remaining: Credits(bk.Remaining), Granted: Credits(bk.Granted),
			GrantedAt: fromMS(bk.GrantedAt).Format(time.RFC3339), ExpiresAt: optTime(bk.ExpiresAt), Note: bk.Note})
	}
	b.Total = Credits(total - u.Debt)
	if b.SpendingPower, err = s.spendingPower(ctx, r, u, total, now); err != nil {
		return Balance{}, err
	}
	loc := s.Settings().Location
	cy := CycleAt(now, loc)
	b.Cycle = CycleInfo{Start: cy.Start.UTC().Format(time.RFC3339), End: cy.End.UTC().Format(time.RFC3339)}
	allow, err := r.AllowanceByCycle(ctx, u.ID, cy.Key, cy.Key)
	if err != nil {
		return Balance{}, err
	}
	b.Cycle.Allowance = Credits(allow[cy.Key])
	use, err := s.cycleUse(ctx, r, u.ID) // the members page shows the same figure
	if err != nil {
		return Balance{}, err
	}
	b.Cycle.Used, b.Cycle.Requests = Credits(use[u.ID].Own), use[u.ID].OwnRequests
	given, err := r.Aggregate(ctx, "member", db.AggFilter{GranterID: u.ID, HasFrom: true, FromDay: DayOf(cy.Start, loc), HasTo: true, ToDay: DayOf(cy.End, loc) - 1})
	if err != nil {
		return Balance{}, err
	}
	b.Cycle.PaidFor = []PaidForMember{}
	for _, row := range given {
		b.Cycle.PaidForOthers += Credits(row.Credits)
		if row.Credits == 0 {
			continue
		}
		id, _ := strconv.ParseInt(row.Key, 10, 64)
		name := "a member"
		if g, err := r.UserByID(ctx, id); err == nil {
			name = g.Name
		}
		b.Cycle.PaidFor = append(b.Cycle.PaidFor, PaidForMember{MemberID: id, Name: name, Credits: Credits(row.Credits)})
	}
	return b, nil
}

// PaidForMember is what a member's allowances paid for one grantee this cycle.
type PaidForMember struct {
	MemberID int64   `json:"memberId"`
	Name     string  `json:"name"`
	Credits  Credits `json:"credits"`
}

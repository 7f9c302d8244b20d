package core

import (
	"context"
	"strconv"
	"time"

	"tokenjar/db"
)

// LedgerRow is a ledger row as the API shows it.
type LedgerRow struct {
	ID           int64   `json:"id"`
	At           string  `json:"at"`
	Action       string  `json:"action"`
	Credits      Credits `json:"credits"`
	BucketID     *int64  `json:"bucketId"`
	Kind         string  `json:"kind"`
	Ref          string  `json:"ref"`
	BalanceAfter Credits `json:"balanceAfter"`
	Note         string  `json:"note"`
	// RepaidDebt and KeptCredits are set only on a row that brought credits in (a grant,
	// top-up, refresh or refund) whose bucket paid debt at once: what went to the debt, and
	// what the member kept ("300 reward: 240 repaid debt, 60 left").
	RepaidDebt  *Credits `json:"repaidDebt,omitempty"`
	KeptCredits *Credits `json:"keptCredits,omitempty"`
}

func ledgerRow(r db.LedgerRow) LedgerRow {
	lr := LedgerRow{ID: r.ID, At: fromMS(r.At).Format(time.RFC3339Nano), Action: r.Action, Credits: Credits(r.Amount),
		Kind: r.Kind, BalanceAfter: Credits(r.BalanceAfter), Note: r.Note}
	if r.Kind == "" {
		lr.Kind = "debt"
	}
	if r.BucketID.Valid {
		v := r.BucketID.Int64
		lr.BucketID = &v
	}
	switch {
	case r.UsageID.Valid:
		lr.Ref = "usage:" + strconv.FormatInt(r.UsageID.Int64, 10)
	case r.BucketID.Valid:
		lr.Ref = "bucket:" + strconv.FormatInt(r.BucketID.Int64, 10)
	}
	return lr
}

func ledgerRows(rows []db.LedgerRow) []LedgerRow {
	out := make([]LedgerRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, ledgerRow(r))
	}
	return out
}

// ledgerEntry is ledgerRow with what the row's credits repaid of the debt.
func ledgerEntry(r db.LedgerEntry) LedgerRow {
	lr := ledgerRow(r.LedgerRow)
	if r.RepaidDebt > 0 {
		repaid, kept := Credits(r.RepaidDebt), Credits(r.Amount-r.RepaidDebt)
		lr.RepaidDebt, lr.KeptCredits = &repaid, &kept
	}
	return lr
}

// LedgerTotals is what came into and went out of a member's credits in a month. A debt
// repayment (a bucket paying the debt) is neither: only credits that came in and charges,
// expiries and debt that went out count, so Net is the month's change of the balance.
type LedgerTotals struct {
	In  Credits `json:"in"`
	Out Credits `json:"out"`
	Net Credits `json:"net"`
}

// LedgerMonth is one month, or one page of a month, of a member's ledger.
type LedgerMonth struct {
	Month  string       `json:"month"`
	Items  []LedgerRow  `json:"items"`
	Totals LedgerTotals `json:"totals"`
	// NextCursor continues the month after this page; nil when the month has no more rows.
	NextCursor *string `json:"nextCursor"`
	// EndCursor is the position after this page's last row (the cursor asked for, or the
	// month's start, when the page is empty): asked for later, it gives the rows written since.
	EndCursor string `json:"endCursor"`
}

// LedgerQuery is GET /ledger's query. Month is YYYY-MM (instance time zone; "" is this
// cycle's month). Without Limit and Cursor the whole month comes in one reply, as before
// paging; with either, a page of Limit rows (100 when only Cursor is given).
type LedgerQuery struct {
	Month, Limit, Cursor string
	Member               int64
}

const ledgerPageSize = 100

// Ledger returns one month of the caller's ledger, or a page of it; admins may read a
// member's, with usage as daily totals only (see ledgerForAdmin).
func (s *Service) Ledger(ctx context.Context, p Principal, q LedgerQuery) (LedgerMonth, error) {
	if err := p.requireUser(); err != nil {
		return LedgerMonth{}, err
	}
	user := p.UserID
	if q.Member != 0 && q.Member != p.UserID {
		if !p.isAdmin() {
			return LedgerMonth{}, &Error{Code: EFORBIDDEN, Message: "only admins may read another member's ledger", Field: "member"}
		}
		user = q.Member
	}
	loc := s.Settings().Location
	start, err := s.ledgerMonthStart(q.Month, loc)
	if err != nil {
		return LedgerMonth{}, err
	}
	page, err := ledgerPaging(q)
	if err != nil {
		return LedgerMonth{}, err
	}
	page.UserID, page.From, page.To = user, ms(start), ms(start.AddDate(0, 1, 0))
	r := s.db.Read()
	in, out, err := r.LedgerTotals(ctx, user, page.From, page.To)
	if err != nil {
		return LedgerMonth{}, err
	}
	res := LedgerMonth{Month: start.Format("2006-01"), Totals: LedgerTotals{In: Credits(in), Out: Credits(out), Net: Credits(in + out)}}
	if user != p.UserID {
		// The folded view is built from the whole month, then paged.
		rows, err := r.LedgerPage(ctx, db.LedgerPageQuery{UserID: user, From: page.From, To: page.To})
		if err != nil {
			return LedgerMonth{}, err
		}
		res.Items, res.NextCursor = pageRows(ledgerForAdmin(rows, loc), page.After, page.Limit)
	} else {
		if page.Limit > 0 {
			page.Limit++ // one more tells whether the month goes on
		}
		rows, err := r.LedgerPage(ctx, page)
		if err != nil {
			return LedgerMonth{}, err
		}
		res.Items = make([]LedgerRow, 0, len(rows))
		for _, row := range rows {
			res.Items = append(res.Items, ledgerEntry(row))
		}
		if page.Limit > 0 {
			res.Items, res.NextCursor = pageRows(res.Items, nil, page.Limit-1)
		}
	}
	res.EndCursor = endCursor(res.Items, page.After, page.From)
	return res, nil
}

// ledgerMonthStart is the first instant of month (YYYY-MM) in loc, or of this cycle's month.
func (s *Service) ledgerMonthStart(month string, loc *time.Location) (time.Time, error) {
	if month == "" {
		return CycleAt(s.clock.Now(), loc).Start, nil
	}
	t, err := time.ParseInLocation("2006-01", month, loc)
	if err != nil {
		return time.Time{}, Invalid("month", "month must be YYYY-MM")
	}
	return t, nil
}

// ledgerPaging reads limit and cursor; Limit 0 means the whole month.
func ledgerPaging(q LedgerQuery) (db.LedgerPageQuery, error) {
	var page db.LedgerPageQuery
	if q.Limit != "" {
		n, err := strconv.Atoi(q.Limit)
		if err != nil || n < 1 || n > 500 {
			return page, Invalid("limit", "limit must be 1 to 500")
		}
		page.Limit = n
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return page, Invalid("cursor", "cursor is not one this server made")
		}
		page.After = &c
		if page.Limit == 0 {
			page.Limit = ledgerPageSize
		}
	}
	return page, nil
}

// rowCursor is the keyset position (at, id) of an API row.
func rowCursor(r LedgerRow) db.Cursor {
	t, _ := time.Parse(time.RFC3339Nano, r.At)
	return db.Cursor{Value: ms(t), ID: r.ID}
}

func after(a, b db.Cursor) bool {
	return a.Value > b.Value || (a.Value == b.Value && a.ID > b.ID)
}

// pageRows keeps the rows after the position from (all when nil), at most limit of them (all
// when 0), and the cursor to continue from when rows were left over.
func pageRows(rows []LedgerRow, from *db.Cursor, limit int) ([]LedgerRow, *string) {
	if from != nil {
		i := 0
		for i < len(rows) && !after(rowCursor(rows[i]), *from) {
			i++
		}
		rows = rows[i:]
	}
	if limit == 0 || len(rows) <= limit {
		return rows, nil
	}
	rows = rows[:limit]
	c := encodeCursor(rowCursor(rows[limit-1]))
	return rows, &c
}

// endCursor is the position after the last of rows; with none, from, or else the month's start.
func endCursor(rows []LedgerRow, from *db.Cursor, monthStart int64) string {
	c := encodeCursor(db.Cursor{Value: monthStart})
	switch {
	case len(rows) > 0:
		c = encodeCursor(rowCursor(rows[len(rows)-1]))
	case from != nil:
		c = encodeCursor(*from)
	}
	return c
}

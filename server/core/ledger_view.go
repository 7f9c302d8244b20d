package core

import (
	"strconv"
	"time"

	"tokenjar/db"
)

// ledgerForAdmin is another member's ledger as an admin may read it (SPEC 5: admins see
// members' balances and totals, not their per-request logs). Grants, top-ups, refreshes,
// expiries, refunds and debt are shown row by row; usage only as one row per day, so the
// times and amounts of single requests stay the member's.
//
// A day's usage row comes after the day's other rows, at the day's last millisecond (instance
// time zone), with the balance at the end of that day. Its credits are the day's usage total,
// its ref is day:YYYY-MM-DD, its kind the bucket kind that paid when there was one (else ""),
// its note the number of requests, and its id that of the day's last usage row (unique, so a
// list can key on it).
func ledgerForAdmin(rows []db.LedgerEntry, loc *time.Location) []LedgerRow {
	out := make([]LedgerRow, 0, len(rows))
	type dayUsage struct {
		day      int64
		credits  int64
		kind     string
		lastID   int64
		requests map[int64]bool
		balance  int64 // after the day's last row of any kind
	}
	var cur *dayUsage
	flush := func() {
		if cur == nil || cur.lastID == 0 {
			return
		}
		n := len(cur.requests)
		note := strconv.Itoa(n) + " requests (daily total)"
		if n == 1 {
			note = "1 request (daily total)"
		}
		out = append(out, LedgerRow{ID: cur.lastID, At: DayStart(cur.day+1, loc).Add(-time.Millisecond).Format(time.RFC3339Nano),
			Action: "usage", Credits: Credits(cur.credits), Kind: cur.kind, Ref: "day:" + DayStart(cur.day, loc).Format("2006-01-02"),
			BalanceAfter: Credits(cur.balance), Note: note})
	}
	for _, r := range rows {
		day := DayOf(fromMS(r.At), loc)
		if cur == nil || cur.day != day {
			flush()
			cur = &dayUsage{day: day, requests: map[int64]bool{}, kind: "-"}
		}
		cur.balance = r.BalanceAfter
		if r.Action != "usage" {
			out = append(out, ledgerEntry(r))
			continue
		}
		cur.credits += r.Amount
		cur.lastID = r.ID
		cur.requests[r.UsageID.Int64] = true
		switch cur.kind {
		case "-":
			cur.kind = r.Kind
		case r.Kind:
		default:
			cur.kind = ""
		}
	}
	flush()
	return out
}

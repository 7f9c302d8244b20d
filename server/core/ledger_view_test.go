package core

import (
	"database/sql"
	"testing"
	"time"

	"tokenjar/db"
)

// TestLedgerForAdminFoldsUsagePerDay proves the admin's view of another member's ledger keeps
// every non-usage row as it is and folds usage into one row per day of the instance time zone,
// placed after that day's other rows with the day's closing balance, the day's total, the
// number of requests and the paying kind ("" when several paid). The API test
// (TestAdminReadsAnotherMembersLedgerAsDailyUsage) covers the route and who gets this view.
func TestLedgerForAdminFoldsUsagePerDay(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	at := func(s string) int64 {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return ms(tm)
	}
	b := func(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: true} }
	rows := []db.LedgerRow{
		{ID: 1, At: at("2026-11-01 09:00"), Action: "grant", Amount: 10000, BucketID: b(1), Kind: "event", BalanceAfter: 10000},
		{ID: 2, At: at("2026-11-01 10:00"), Action: "usage", Amount: -1000, BucketID: b(1), Kind: "event", UsageID: b(7), BalanceAfter: 9000},
		{ID: 3, At: at("2026-11-01 23:30"), Action: "usage", Amount: -500, BucketID: b(1), Kind: "event", UsageID: b(8), BalanceAfter: 8500},
		{ID: 4, At: at("2026-11-02 00:10"), Action: "usage", Amount: -250, BucketID: b(1), Kind: "event", UsageID: b(9), BalanceAfter: 8250},
		{ID: 5, At: at("2026-11-02 00:10"), Action: "usage", Amount: -250, BucketID: b(2), Kind: "addon", UsageID: b(9), BalanceAfter: 8000},
		{ID: 6, At: at("2026-11-02 12:00"), Action: "topup", Amount: 2000, BucketID: b(3), Kind: "addon", BalanceAfter: 10000},
		{ID: 7, At: at("2026-11-03 08:00"), Action: "refund", Amount: 1000, BucketID: b(1), Kind: "event", UsageID: b(7), BalanceAfter: 11000},
	}
	entries := make([]db.LedgerEntry, len(rows))
	for i, r := range rows {
		entries[i] = db.LedgerEntry{LedgerRow: r}
	}
	got := ledgerForAdmin(entries, loc)
	want := []struct {
		id                    int64
		action, at, ref, kind string
		credits, balance      Credits
		note                  string
	}{
		{1, "grant", "2026-11-01T08:00:00Z", "bucket:1", "event", 10000, 10000, ""},
		{3, "usage", "2026-11-01T23:59:59.999+01:00", "day:2026-11-01", "event", -1500, 8500, "2 requests (daily total)"},
		{6, "topup", "2026-11-02T11:00:00Z", "bucket:3", "addon", 2000, 10000, ""},
		{5, "usage", "2026-11-02T23:59:59.999+01:00", "day:2026-11-02", "", -500, 10000, "1 request (daily total)"},
		{7, "refund", "2026-11-03T07:00:00Z", "usage:7", "event", 1000, 11000, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Action != w.action || g.At != w.at || g.Ref != w.ref || g.Kind != w.kind || g.Credits != w.credits || g.BalanceAfter != w.balance || g.Note != w.note {
			t.Errorf("row %d = %+v\nwant %+v", i, g, w)
		}
		if g.Action == "usage" && g.BucketID != nil {
			t.Errorf("row %d names a bucket: %+v", i, g)
		}
	}
}

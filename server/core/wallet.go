package core

import (
	"context"
	"database/sql"

	"tokenjar/db"
)

// Bucket kinds.
const (
	KindSubscription = "subscription"
	KindAddon        = "addon"
	KindEvent        = "event"
)

// Part is the piece of a charge one bucket paid.
type Part struct {
	BucketID int64   `json:"bucketId"`
	Kind     string  `json:"kind"`
	Credits  Credits `json:"credits"`
	// Source is who paid the part: a delegation id (the granter's bucket), or "personal".
	Source string `json:"source,omitempty"`
}

// wallet moves one member's credits inside a write transaction. Every movement writes its
// ledger row and keeps the running balance, so sum(ledger) = sum(remaining) - debt always holds.
//
// A wallet loads its buckets once. In deferred mode (a charge group) bucket remainders and the
// balance are kept in memory and written by save(); otherwise bucket changes are written at
// once and save() writes the balance.
type wallet struct {
	ctx      context.Context
	c        *db.Conn
	user     db.User
	now      int64
	written  []db.LedgerRow
	buckets  []db.Bucket // with credits when loaded, in deduction order; nil until loaded
	deferred bool
	dirty    map[int64]bool
	group    uint64 // the charge group that last used it (a charger's cached wallet)
	// ledger, in deferred mode, collects the ledger rows for the group to insert at once.
	ledger *[]db.LedgerRow
}

func openWallet(ctx context.Context, c *db.Conn, userID, now int64) (*wallet, error) {
	u, err := c.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	return &wallet{ctx: ctx, c: c, user: u, now: now}, nil
}

func (w *wallet) record(action string, amount int64, b *db.Bucket, usageID int64, note string) error {
	w.user.Balance += amount
	row := db.LedgerRow{UserID: w.user.ID, At: w.now, Action: action, Amount: amount, BalanceAfter: w.user.Balance, Note: note}
	if b != nil {
		row.BucketID = sql.NullInt64{Int64: b.ID, Valid: true}
		row.Kind = b.Kind
	}
	if usageID != 0 {
		row.UsageID = sql.NullInt64{Int64: usageID, Valid: true}
	}
	if w.ledger != nil {
		*w.ledger = append(*w.ledger, row)
		return nil
	}
	id, err := w.c.InsertLedger(w.ctx, row)
	row.ID = id
	if !w.deferred {
		w.written = append(w.written, row)
	}
	return err
}

// save stores what is still in memory: changed bucket remainders (deferred mode) and the
// member's running balance and debt. Call it once after the movements.
func (w *wallet) save() error {
	for i := range w.buckets {
		if b := &w.buckets[i]; w.dirty[b.ID] {
			if err := w.c.SetBucketRemaining(w.ctx, b.ID, b.Remaining); err != nil {
				return err
			}
		}
	}
	w.dirty = nil
	return w.c.SetMoney(w.ctx, w.user.ID, w.user.Balance, w.user.Debt)
}

// collect hands a deferred wallet's changes to its charge group, which stores those of all its
// wallets at once.
func (w *wallet) collect(rem *[]db.Remaining, money *[]db.Money) {
	for i := range w.buckets {
		if b := &w.buckets[i]; w.dirty[b.ID] {
			*rem = append(*rem, db.Remaining{BucketID: b.ID, Remaining: b.Remaining})
		}
	}
	w.dirty = nil
	*money = append(*money, db.Money{UserID: w.user.ID, Balance: w.user.Balance, Debt: w.user.Debt})
}

// setRemaining moves a bucket's remainder, in memory and (unless deferred) on disk.
func (w *wallet) setRemaining(b *db.Bucket, remaining int64) error {
	b.Remaining = remaining
	for i := range w.buckets {
		if w.buckets[i].ID == b.ID {
			w.buckets[i].Remaining = remaining
		}
	}
	if w.deferred {
		if w.dirty == nil {
			w.dirty = map[int64]bool{}
		}
		w.dirty[b.ID] = true
		return nil
	}
	return w.c.SetBucketRemaining(w.ctx, b.ID, remaining)
}

func expired(b db.Bucket, now int64) bool {
	return b.ExpiresAt.Valid && b.ExpiresAt.Int64 <= now
}

// liveBuckets returns the buckets holding credits in deduction order, first writing off any
// whose expiry has passed: an expired bucket is never drawn, whether or not the job ran.
func (w *wallet) liveBuckets() ([]db.Bucket, error) {
	if w.buckets == nil {
		all, err := w.c.BucketsWithCredits(w.ctx, w.user.ID)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = []db.Bucket{}
		}
		w.buckets = all
	}
	var live []db.Bucket
	for i := range w.buckets {
		b := &w.buckets[i]
		if b.Remaining == 0 {
			continue
		}
		if expired(*b, w.now) {
			if err := w.expire(b); err != nil {
				return nil, err
			}
			continue
		}
		live = append(live, *b)
	}
	return live, nil
}

func (w *wallet) expire(b *db.Bucket) error {
	if b.Remaining == 0 {
		return nil
	}
	amount := b.Remaining
	if err := w.setRemaining(b, 0); err != nil {
		return err
	}
	return w.record("expire", -amount, b, 0, "")
}

// deduction is how a charge splits over buckets, computed before anything is written.
type deduction struct {
	parts     []Part
	shortfall int64
}

func planDeduction(live []db.Bucket, amount int64) deduction {
	var d deduction
	left := amount
	for _, b := range live {
		if left == 0 {
			break
		}
		take := min(b.Remaining, left)
		if take == 0 {
			continue
		}
		d.parts = append(d.parts, Part{BucketID: b.ID, Kind: b.Kind, Credits: Credits(take)})
		left -= take
	}
	d.shortfall = left
	return d
}

// applyDeduction writes the usage rows of a planned charge, and the debt for what no bucket covered.
func (w *wallet) applyDeduction(live []db.Bucket, d deduction, usageID int64, note string) error {
	byID := make(map[int64]*db.Bucket, len(live))
	for i := range live {
		byID[live[i].ID] = &live[i]
	}
	for _, p := range d.parts {
		b := byID[p.BucketID]
		if err := w.setRemaining(b, b.Remaining-int64(p.Credits)); err != nil {
			return err
		}
		if err := w.record("usage", -int64(p.Credits), b, usageID, note); err != nil {
			return err
		}
	}
	if d.shortfall > 0 {
		w.user.Debt += d.shortfall
		if err := w.record("debt", -d.shortfall, nil, usageID, "not covered by any bucket"); err != nil {
			return err
		}
	}
	return nil
}

// creditIn adds a new bucket and lets it pay any debt first.
func (w *wallet) creditIn(action string, b db.Bucket, note string) (db.Bucket, error) {
	return w.creditInFor(action, b, 0, note)
}

// creditInFor is creditIn for a movement caused by a usage event (a refund), whose row refers
// to the event rather than to the new bucket.
func (w *wallet) creditInFor(action string, b db.Bucket, usageID int64, note string) (db.Bucket, error) {
	b.UserID = w.user.ID
	b.Remaining = b.Granted
	if b.GrantedAt == 0 {
		b.GrantedAt = w.now
	}
	id, err := w.c.InsertBucket(w.ctx, b)
	if err != nil {
		return b, err
	}
	b.ID = id
	if w.buckets != nil {
		w.buckets = nil // reload on next use, in deduction order
	}
	if err := w.record(action, b.Granted, &b, usageID, note); err != nil {
		return b, err
	}
	return b, w.repayDebt(&b)
}

// repayDebt moves credits from b to the debt; a zero-sum pair of rows, so the balance holds.
func (w *wallet) repayDebt(b *db.Bucket) error {
	pay := min(w.user.Debt, b.Remaining)
	if pay <= 0 || expired(*b, w.now) {
		return nil
	}
	if err := w.setRemaining(b, b.Remaining-pay); err != nil {
		return err
	}
	if err := w.record("debt", -pay, b, 0, "repays debt"); err != nil {
		return err
	}
	w.user.Debt -= pay
	return w.record("debt", pay, nil, 0, "debt repaid")
}

// addToBucket returns credits to an existing bucket (refunds, allowance raises).
func (w *wallet) addToBucket(action string, b *db.Bucket, amount int64, usageID int64, note string) error {
	if err := w.setRemaining(b, b.Remaining+amount); err != nil {
		return err
	}
	return w.record(action, amount, b, usageID, note)
}

func sumRemaining(bs []db.Bucket) int64 {
	var n int64
	for _, b := range bs {
		n += b.Remaining
	}
	return n
}

package core

import (
	"context"
	"time"

	"tokenjar/db"
)

// AllowanceLeft is an active allowance a member may spend from now (SPEC 5, spending power).
type AllowanceLeft struct {
	ID          int64    `json:"id"`
	GranterName string   `json:"granterName"`
	Note        string   `json:"note"`
	Left        Credits  `json:"left"` // this period, bounded by the granter's live credits, less holds
	Period      string   `json:"period"`
	ResetsAt    *string  `json:"resetsAt"` // null for a one-off total
	Models      []string `json:"models"`   // [] for any model
}

// SpendingPower is what a member can spend now: their own live credits (never below 0) plus
// what each active allowance has left, less what in-flight gateway requests hold.
type SpendingPower struct {
	Available  Credits         `json:"available"`
	Reserved   Credits         `json:"reserved"` // held by the member's in-flight gateway requests
	Allowances []AllowanceLeft `json:"allowances"`
}

// spendingPower weighs sources as the charger does for a gateway hold (charge_sources.go), read
// from a snapshot: own live credits less holds on them, and each allowance's remainder less its
// holds, bounded by what its granter has free (shared by that granter's allowances, oldest first).
func (s *Service) spendingPower(ctx context.Context, r *db.Conn, u db.User, ownLive int64, now time.Time) (SpendingPower, error) {
	sp := SpendingPower{Allowances: []AllowanceLeft{}}
	book, err := loadHoldBook(ctx, r)
	if err != nil {
		return sp, err
	}
	for _, parts := range book.parts {
		for _, p := range parts {
			if p.UserID == u.ID {
				sp.Reserved += Credits(p.Credits)
			}
		}
	}
	available := max(ownLive-book.wallet[u.ID], 0)
	ds, err := r.DelegationsReceived(ctx, u.ID)
	if err != nil {
		return sp, err
	}
	set := s.Settings()
	granterFree := map[int64]int64{}
	for _, d := range ds {
		cur, _ := currentTerms(d, now)
		if inForce(cur, now) != "" {
			continue
		}
		free, ok := granterFree[cur.GranterID]
		if !ok {
			if free, ok, err = s.granterFree(ctx, r, cur.GranterID, book, now); err != nil {
				return sp, err
			}
			if !ok {
				continue // a disabled granter's allowances pay nothing
			}
		}
		used := usedInPeriod(cur, periodKey(cur.Period, now, set.Location))
		left := max(min(cur.Credits-used-book.deleg[cur.ID], free), 0)
		granterFree[cur.GranterID] = free - left
		available += left
		a := AllowanceLeft{ID: cur.ID, GranterName: cur.GranterName, Note: cur.Note, Left: Credits(left), Period: cur.Period, Models: nameList(cur.Models)}
		if a.Models == nil {
			a.Models = []string{}
		}
		if end := periodEnd(cur.Period, now, set.Location); !end.IsZero() {
			v := end.UTC().Format(time.RFC3339)
			a.ResetsAt = &v
		}
		sp.Allowances = append(sp.Allowances, a)
	}
	sp.Available = Credits(available)
	return sp, nil
}

// granterFree is a granter's live credits less what holds set aside on them; ok false when the
// granter is disabled.
func (s *Service) granterFree(ctx context.Context, r *db.Conn, id int64, book *holdBook, now time.Time) (int64, bool, error) {
	g, err := r.UserByID(ctx, id)
	if err != nil || g.Disabled {
		return 0, false, err
	}
	bs, err := r.BucketsWithCredits(ctx, id)
	if err != nil {
		return 0, false, err
	}
	var live int64
	for _, b := range bs {
		if !expired(b, ms(now)) {
			live += b.Remaining
		}
	}
	return max(live-book.wallet[id], 0), true, nil
}

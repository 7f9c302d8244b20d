package core

import (
	"context"

	"tokenjar/db"
)

// holdBook is the charger's view of the holds table: what in-flight gateway requests have set
// aside, by allowance and by paying wallet. Every change to holds goes through the charger, so
// the book is current between groups; a failed group or another writer drops it (with the
// other caches), and the next group reads it again from the table.
type holdBook struct {
	parts  map[int64][]db.HoldPart // by hold id
	deleg  map[int64]int64         // delegation → held on it
	wallet map[int64]int64         // payer → held on their credits
}

func loadHoldBook(ctx context.Context, c *db.Conn) (*holdBook, error) {
	parts, err := c.HoldParts(ctx)
	if err != nil {
		return nil, err
	}
	b := &holdBook{parts: map[int64][]db.HoldPart{}, deleg: map[int64]int64{}, wallet: map[int64]int64{}}
	for _, p := range parts {
		b.add(p)
	}
	return b, nil
}

func (b *holdBook) add(p db.HoldPart) {
	b.parts[p.HoldID] = append(b.parts[p.HoldID], p)
	if p.DelegationID != 0 {
		b.deleg[p.DelegationID] += p.Credits
	}
	b.wallet[p.PayerID] += p.Credits
}

// drop forgets a hold; its parts, for the caller that settles it.
func (b *holdBook) drop(id int64) []db.HoldPart {
	parts := b.parts[id]
	for _, p := range parts {
		if p.DelegationID != 0 {
			b.deleg[p.DelegationID] -= p.Credits
			if b.deleg[p.DelegationID] == 0 {
				delete(b.deleg, p.DelegationID)
			}
		}
		b.wallet[p.PayerID] -= p.Credits
		if b.wallet[p.PayerID] == 0 {
			delete(b.wallet, p.PayerID)
		}
	}
	delete(b.parts, id)
	return parts
}

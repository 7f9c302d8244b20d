package server

import (
	"encoding/json"
	"testing"
)

type grantReply struct {
	Credits, RepaidDebt, KeptCredits json.Number
	Ledger                           []ledgerEntryItem
}

// TestGrantSaysWhatRepaidDebt proves POST /members/{id}/grants says what the grant repaid of the
// member's debt and what the member kept ("300 reward: 240 repaid debt, 60 left"), on the reply
// and on the grant's ledger row, the same as GET /ledger shows it; and that a grant to a member
// without debt repaid nothing and kept it all.
func TestGrantSaysWhatRepaidDebt(t *testing.T) {
	ts := newTestServer(t)
	jane, janeToken := ts.member("jane@example.org")
	ts.grant(jane, "addon", "10")
	ts.do("POST", "/api/v1/usage", janeToken, map[string]any{"description": "a big image", "credits": 250}, 201, nil)

	var reward grantReply
	ts.do("POST", "/api/v1/members/"+itoa(jane)+"/grants", ts.owner, map[string]any{"kind": "addon", "credits": 300, "note": "reward"}, 201, &reward)
	if reward.Credits != "300" || reward.RepaidDebt != "240" || reward.KeptCredits != "60" {
		t.Fatalf("the reward's reply: credits %s, repaidDebt %s, keptCredits %s; want 300, 240, 60", reward.Credits, reward.RepaidDebt, reward.KeptCredits)
	}
	var row *ledgerEntryItem
	for i, r := range reward.Ledger {
		if r.Note == "reward" {
			row = &reward.Ledger[i]
		} else if r.RepaidDebt != nil {
			t.Fatalf("a row of the reply other than the grant's says it repaid debt: %+v", r)
		}
	}
	if row == nil || row.RepaidDebt == nil || row.KeptCredits == nil || *row.RepaidDebt != "240" || *row.KeptCredits != "60" {
		t.Fatalf("the reward's ledger row in the reply: %+v", row)
	}

	var more grantReply
	ts.do("POST", "/api/v1/members/"+itoa(jane)+"/grants", ts.owner, map[string]any{"kind": "addon", "credits": 50}, 201, &more)
	if more.RepaidDebt != "0" || more.KeptCredits != "50" {
		t.Fatalf("a grant without debt: repaidDebt %s, keptCredits %s; want 0, 50", more.RepaidDebt, more.KeptCredits)
	}
	for _, r := range more.Ledger {
		if r.RepaidDebt != nil {
			t.Fatalf("a grant without debt has a row that repaid debt: %+v", r)
		}
	}
	ts.checkInvariant()
}

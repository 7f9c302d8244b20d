package core

import (
	"testing"
	"time"
)

// Filtered pages are cut short by the rollups; paging through must still return every
// matching event exactly once, in order, however sparse the matches.
func TestFilteredPagingReturnsEveryMatchOnce(t *testing.T) {
	h := newHarness(t, at("2026-06-01T08:00:00Z"))
	u := h.member("pat")
	h.grant(u, KindAddon, 1_000_000, nil)
	p := Principal{Via: ViaToken, UserID: u, Role: RoleMember}
	want := map[string][]int64{}
	for day := 0; day < 90; day++ {
		for k := 0; k < 6; k++ {
			model := "common"
			switch {
			case day%11 == 3 && k == 2:
				model = "rare"
			case day >= 40 && day < 45:
				model = "burst"
			}
			res := h.chargeWith(u, 1, func(r *UsageReport) { r.Model = model })
			want[model] = append([]int64{res.ID}, want[model]...) // newest first
			h.clock.Advance(3 * time.Hour)
		}
		h.clock.Set(at("2026-06-01T08:00:00Z").AddDate(0, 0, day+1))
	}
	for _, model := range []string{"rare", "burst", "common", "none"} {
		for _, limit := range []string{"1", "4", "50"} {
			var got []int64
			q := UsageQuery{Model: model, Limit: limit}
			for pages := 0; pages < 1000; pages++ {
				page, err := h.svc.ListUsage(h.ctx, p, q, false)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range page.Items {
					got = append(got, it.ID)
				}
				if page.NextCursor == nil {
					break
				}
				q.Cursor = *page.NextCursor
			}
			if len(got) != len(want[model]) {
				t.Fatalf("model %s limit %s: %d events, want %d", model, limit, len(got), len(want[model]))
			}
			for i := range got {
				if got[i] != want[model][i] {
					t.Fatalf("model %s limit %s: event %d is %d, want %d", model, limit, i, got[i], want[model][i])
				}
			}
		}
	}
}

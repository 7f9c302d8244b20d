package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/server/core"
)

// The dashboard's queries as Go benchmarks (issue 6): the aggregates behind the overview and
// granted charts and first pages of the usage log, through the engine, on a scale demo. A
// regression shows in benchstat:
//
//	go test -run '^$' -bench Dashboard -count 6 ./server/demo > old.txt
//	(change something)
//	go test -run '^$' -bench Dashboard -count 6 ./server/demo > new.txt
//	benchstat old.txt new.txt
//
// BENCH_QUERY_EVENTS sets the demo's size (default 50,000 events, seeded in about 20 s). The
// seeded folder is kept in the system's temp directory and reused while its demo.json is there,
// so runs before and after a change read the same data (delete it to seed again). bench/run.sh
// times the same queries over HTTP at 10M events.

type dashboardData struct {
	svc                    *core.Service
	member, granter, owner core.Principal
	memberEvents           int64
	model                  string
	source                 string // personal, or delegated for a member with no events of their own
	monthAgo               string
}

func dashboardBench(b *testing.B) *dashboardData {
	b.Helper()
	events := int64(50_000)
	if v := os.Getenv("BENCH_QUERY_EVENTS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1000 {
			b.Fatalf("BENCH_QUERY_EVENTS=%q: want a number of events, at least 1000", v)
		}
		events = n
	}
	ctx := context.Background()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("tokenjar-bench-queries-%d", events))
	info, seeded := readScaleInfo(dir)
	if !seeded {
		os.RemoveAll(dir) // an unfinished seed
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	d, err := db.Open(filepath.Join(dir, "tokenjar.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	clock := &Clock{}
	clock.Set(time.Now())
	svc, err := core.New(ctx, d, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	if !seeded {
		b.Logf("seeding %d events into %s", events, dir)
		err := d.BulkLoad(ctx, func() error {
			var err error
			info, err = Scale(ctx, svc, clock, dir, time.Now(), events, 1, nil)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		js, _ := json.Marshal(info)
		if err := os.WriteFile(filepath.Join(dir, "demo.json"), js, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	out := &dashboardData{svc: svc}
	// The busiest member, and the granter whose allowances paid for the most events.
	var busiest, payer int64
	r := d.Read()
	if err := r.QueryRowForTest(ctx, `SELECT user_id FROM usage_events GROUP BY user_id ORDER BY count(*) DESC LIMIT 1`, &busiest); err != nil {
		b.Fatal(err)
	}
	if err := r.QueryRowForTest(ctx, `SELECT payer_id FROM usage_events WHERE delegation_id IS NOT NULL GROUP BY payer_id ORDER BY count(*) DESC LIMIT 1`, &payer); err != nil {
		b.Fatal(err)
	}
	if err := r.QueryRowForTest(ctx, `SELECT count(*) FROM usage_events WHERE user_id = `+strconv.FormatInt(busiest, 10), &out.memberEvents); err != nil {
		b.Fatal(err)
	}
	if err := r.QueryRowForTest(ctx, `SELECT model FROM usage_events WHERE user_id = `+strconv.FormatInt(busiest, 10)+` GROUP BY model ORDER BY count(*) LIMIT 1`, &out.model); err != nil {
		b.Fatal(err)
	}
	var personal int64
	if err := r.QueryRowForTest(ctx, `SELECT count(*) FROM usage_events WHERE delegation_id IS NULL AND user_id = `+strconv.FormatInt(busiest, 10), &personal); err != nil {
		b.Fatal(err)
	}
	out.source = "personal"
	if personal == 0 {
		out.source = "delegated"
	}
	token := func(id int64) string {
		t := info.TokenOf(id)
		if t == "" {
			b.Fatalf("no token for member %d in %s/demo.json", id, dir)
		}
		return t
	}
	for _, p := range []struct {
		to    *core.Principal
		token string
	}{{&out.member, token(busiest)}, {&out.granter, token(payer)}, {&out.owner, info.Owner.Token}} {
		if *p.to, err = svc.AuthenticateBearer(ctx, p.token); err != nil {
			b.Fatal(err)
		}
	}
	to, err := time.Parse(time.RFC3339, info.To)
	if err != nil {
		b.Fatal(err)
	}
	out.monthAgo = to.AddDate(0, 0, -30).Format("2006-01-02")
	return out
}

func readScaleInfo(dir string) (ScaleInfo, bool) {
	var info ScaleInfo
	js, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil || json.Unmarshal(js, &info) != nil {
		return info, false
	}
	return info, true
}

func BenchmarkDashboardAggregate(b *testing.B) {
	d := dashboardBench(b)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		p    core.Principal
		q    core.UsageQuery
	}{
		{"own/by=day/all", d.member, core.UsageQuery{By: "day"}},
		{"own/by=model/all", d.member, core.UsageQuery{By: "model"}},
		{"own/by=app/month", d.member, core.UsageQuery{By: "app", From: d.monthAgo}},
		{"granted/by=day/all", d.granter, core.UsageQuery{By: "day", Scope: "granted"}},
		{"granted/by=member/all", d.granter, core.UsageQuery{By: "member", Scope: "granted"}},
		{"everyone/by=member/all", d.owner, core.UsageQuery{By: "member", Scope: "all"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				a, err := d.svc.Aggregate(ctx, c.p, c.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(a.Items) == 0 {
					b.Fatal("no groups")
				}
			}
		})
	}
}

func BenchmarkDashboardUsagePage(b *testing.B) {
	d := dashboardBench(b)
	ctx := context.Background()
	b.Logf("member with %d events; rarest model %s; source=%s", d.memberEvents, d.model, d.source)
	for _, c := range []struct {
		name    string
		p       core.Principal
		q       core.UsageQuery
		granted bool
	}{
		{"own/newest", d.member, core.UsageQuery{Limit: "50"}, false},
		{"own/sort=-credits", d.member, core.UsageQuery{Limit: "50", Sort: "-credits"}, false},
		{"own/rarest-model/sort=-totalTokens", d.member, core.UsageQuery{Limit: "50", Model: d.model, Sort: "-totalTokens"}, false},
		{"own/source", d.member, core.UsageQuery{Limit: "50", Source: d.source}, false},
		{"granted/newest", d.granter, core.UsageQuery{Limit: "50"}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				page, err := d.svc.ListUsage(ctx, c.p, c.q, c.granted)
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Items) == 0 {
					b.Fatal("an empty page")
				}
			}
		})
	}
}

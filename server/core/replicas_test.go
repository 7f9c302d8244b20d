package core

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// replicas returns n services on h's database, h.svc first, each with a clock of its own set to
// h's time. On PostgreSQL the others open the database again, as other `tokenjar serve`
// replicas do. On SQLite one server owns the file (the data folder's lock), so the "replicas"
// are h.svc n times: what its scheduler and its catch-up goroutine are when they meet.
func (h *harness) replicas(n int) ([]*Service, []*fakeClock) {
	h.t.Helper()
	svcs, clocks := []*Service{h.svc}, []*fakeClock{h.clock}
	for len(svcs) < n {
		if dbtest.Engine() == db.SQLite {
			svcs, clocks = append(svcs, h.svc), append(clocks, h.clock)
			continue
		}
		d, err := db.Open(h.target)
		if err != nil {
			h.t.Fatal(err)
		}
		h.t.Cleanup(func() { d.Close() })
		clock := &fakeClock{t: h.clock.Now()}
		svc, err := New(h.ctx, d, clock, nil)
		if err != nil {
			h.t.Fatal(err)
		}
		h.t.Cleanup(svc.Close)
		svcs, clocks = append(svcs, svc), append(clocks, clock)
	}
	return svcs, clocks
}

// together runs fn for each service at once and waits for all of them.
func together(svcs []*Service, fn func(i int, s *Service)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i, s)
		}()
	}
	close(start)
	wg.Wait()
}

// jobRuns counts the recorded runs of a job as of from or later.
func (h *harness) jobRuns(name string, from time.Time) int {
	h.t.Helper()
	runs, err := h.db.Read().JobRuns(h.ctx, name, ms(from))
	if err != nil {
		h.t.Fatal(err)
	}
	return len(runs)
}

// planMembers makes n members with a monthly plan of 1000.
func (h *harness) planMembers(n int) []int64 {
	h.t.Helper()
	var ids []int64
	for i := range n {
		u := h.member(fmt.Sprintf("m%d", i))
		if _, err := h.svc.SetPlan(h.ctx, h.owner, u, 1000, false); err != nil {
			h.t.Fatal(err)
		}
		ids = append(ids, u)
	}
	return ids
}

// The monthly refresh fired on three replicas at the same cycle start runs once: one job_runs
// row, one subscription bucket per member. It proves the jobs' lock and the "done this cycle"
// check together; it does not prove anything about replicas whose clocks disagree on the cycle.
func TestScheduledRefreshRunsOnceOnThreeReplicas(t *testing.T) {
	h := newHarness(t, at("2026-10-31T23:00:00Z"))
	members := h.planMembers(60) // more than one chunk (jobChunk)
	start := at("2026-11-01T00:00:00Z")
	svcs, clocks := h.replicas(3)
	for _, c := range clocks {
		c.Set(start)
	}
	var mu sync.Mutex
	ran := 0
	together(svcs, func(_ int, s *Service) {
		_, ok, err := s.RunScheduled(h.ctx, "refresh", t.TempDir())
		if err != nil {
			t.Error(err)
		}
		if ok {
			mu.Lock()
			ran++
			mu.Unlock()
		}
	})
	if ran != 1 || h.jobRuns("refresh", start) != 1 {
		t.Fatalf("refresh ran %d times, %d job_runs rows for November; want 1 and 1", ran, h.jobRuns("refresh", start))
	}
	for _, u := range members {
		if bs, err := h.db.Read().BucketsInCycle(h.ctx, u, 202611); err != nil || len(bs) != 1 || bs[0].Remaining != 1000 {
			t.Fatalf("member %d: November buckets %+v, %v; want one of 1000", u, bs, err)
		}
	}
	// Fired again later in the cycle (a replica whose timer came late), it does nothing.
	for _, c := range clocks {
		c.Set(start.Add(time.Minute))
	}
	if _, ok, err := svcs[len(svcs)-1].RunScheduled(h.ctx, "refresh", t.TempDir()); err != nil || ok {
		t.Fatalf("a second scheduled refresh in the cycle ran=%v err=%v", ok, err)
	}
	h.checkInvariant()
}

// Two replicas that start together after downtime (a missed cycle) catch up once: one run of
// each job, one December bucket per member.
func TestCatchUpOnceWhenTwoReplicasStartTogether(t *testing.T) {
	h := newHarness(t, at("2026-10-10T12:00:00Z"))
	members := h.planMembers(3)
	if _, err := h.svc.RunJob(h.ctx, "refresh", h.clock.Now(), h.dir); err != nil {
		t.Fatal(err)
	}
	back := at("2026-12-03T09:00:00Z") // off for all of November
	svcs, clocks := h.replicas(2)
	for _, c := range clocks {
		c.Set(back)
	}
	together(svcs, func(_ int, s *Service) {
		if err := s.CatchUp(h.ctx, t.TempDir()); err != nil {
			t.Error(err)
		}
	})
	for _, job := range Jobs {
		if n := h.jobRuns(job, back); n != 1 {
			t.Errorf("%s ran %d times in the catch-up; want 1", job, n)
		}
	}
	for _, u := range members {
		if bs, err := h.db.Read().BucketsInCycle(h.ctx, u, 202612); err != nil || len(bs) != 1 {
			t.Fatalf("member %d: December buckets %+v, %v; want one", u, bs, err)
		}
	}
	h.checkInvariant()
}

// On PostgreSQL a replica that starts keeps the live holds of the others and drops only the
// expired ones: a request held through replica A is still held, and settles, after replica B
// starts. (On SQLite one server owns the database and drops every hold: TestHoldsNeverStick.)
// Not covered: the sweeper's ticker.
func TestAReplicaStartingKeepsTheOthersHolds(t *testing.T) {
	if dbtest.Engine() != db.Postgres {
		t.Skip("PostgreSQL only: on SQLite one server owns the database and drops every hold at start")
	}
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	kid := h.member("kid")
	h.grant(kid, KindAddon, 10_000, nil)
	h.hold(tokenOf(kid), gwCall(kid, 1000, 1000)) // expires at 12:15
	h.clock.Advance(10 * time.Minute)
	call := gwCall(kid, 1000, 1000)
	live := h.hold(tokenOf(kid), call) // expires at 12:25
	svcs, clocks := h.replicas(2)
	clocks[1].Set(at("2026-11-10T12:16:00Z"))
	if err := svcs[1].StartHolds(h.ctx); err != nil {
		t.Fatal(err)
	}
	parts, err := h.db.Read().HoldParts(h.ctx)
	if err != nil || len(parts) != 1 || parts[0].HoldID != live.ID {
		t.Fatalf("holds after replica B started: %+v %v; want only the live one, %d", parts, err, live.ID)
	}
	h.settle(live, call, gwUsage(500, 500))
	if b := h.balance(kid); b.Reserved != 0 || b.Total != 9000 {
		t.Fatalf("after settling through replica A: %+v", b)
	}
	h.checkInvariant()
}

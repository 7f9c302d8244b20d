package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A category collects the timings of many queries; each query is run once to warm up and then
// -reps times. A query's figure is the median of its timed runs; a category reports the worst
// of its queries' medians (compared with the target), the p50 of all its timed runs, and the
// single slowest run.
type category struct {
	name, target string
	limit        time.Duration
	queries      []queryTiming
}

type queryTiming struct {
	name string
	runs []time.Duration
}

func (q queryTiming) median() time.Duration {
	r := append([]time.Duration(nil), q.runs...)
	sort.Slice(r, func(i, j int) bool { return r[i] < r[j] })
	return r[len(r)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func (c *category) row() Row {
	if len(c.queries) == 0 {
		return Row{Metric: c.name, Target: c.target, Measured: "no queries", Result: "N/A"}
	}
	var all []time.Duration
	var worst queryTiming
	var worstMed, maxRun time.Duration
	for _, q := range c.queries {
		all = append(all, q.runs...)
		if m := q.median(); m >= worstMed {
			worstMed, worst = m, q
		}
		for _, r := range q.runs {
			maxRun = max(maxRun, r)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return Row{
		Metric:   c.name,
		Target:   c.target,
		Measured: fmt.Sprintf("worst median %s; p50 %s; max %s; %d queries", ms(worstMed), ms(all[len(all)/2]), ms(maxRun), len(c.queries)),
		Result:   passFail(worstMed <= c.limit),
		Note:     "slowest: " + worst.name,
	}
}

type dashRun struct {
	a    *api
	reps int
	log  bool
}

// time runs a GET once to warm up, then reps times, and returns the timings and the last reply.
func (r *dashRun) time(name, path string, q url.Values, token string, out any) (queryTiming, error) {
	qt := queryTiming{name: name}
	if _, err := r.a.get(path, q, token, out); err != nil {
		return qt, fmt.Errorf("%s: %w", name, err)
	}
	for i := 0; i < r.reps; i++ {
		el, err := r.a.get(path, q, token, out)
		if err != nil {
			return qt, fmt.Errorf("%s: %w", name, err)
		}
		qt.runs = append(qt.runs, el)
	}
	if r.log {
		fmt.Printf("    %-90s median %s\n", name, ms(qt.median()))
	}
	return qt, nil
}

// timeInTurn times a walk's pages: one warm-up round over all of them, then reps rounds, each
// page once a round. A stall of the machine (it is shared) then slows one run of a few pages,
// which their medians drop, instead of every run of one page.
func (r *dashRun) timeInTurn(names []string, path string, queries []url.Values, token string) ([]queryTiming, error) {
	qts := make([]queryTiming, len(names))
	for i := range qts {
		qts[i].name = names[i]
	}
	for round := 0; round <= r.reps; round++ {
		for i, q := range queries {
			var p page
			el, err := r.a.get(path, q, token, &p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", names[i], err)
			}
			if round > 0 {
				qts[i].runs = append(qts[i].runs, el)
			}
		}
	}
	if r.log {
		for _, qt := range qts {
			fmt.Printf("    %-90s median %s\n", qt.name, ms(qt.median()))
		}
	}
	return qts, nil
}

type page struct {
	Items []struct {
		ID any `json:"id"`
	} `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// ranges are the chart ranges: the last 7, 30, 90 days, and all time.
func ranges(now time.Time) []struct {
	name string
	q    url.Values
} {
	d := func(days int) url.Values {
		return url.Values{"from": {now.AddDate(0, 0, -days+1).Format("2006-01-02")}, "to": {now.Format("2006-01-02")}}
	}
	return []struct {
		name string
		q    url.Values
	}{{"7d", d(7)}, {"30d", d(30)}, {"90d", d(90)}, {"all", url.Values{}}}
}

func with(q url.Values, kv ...string) url.Values {
	o := url.Values{}
	for k, v := range q {
		o[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i], kv[i+1])
	}
	return o
}

func qs(q url.Values) string {
	if len(q) == 0 {
		return "(none)"
	}
	return q.Encode()
}

// topKeys asks an aggregate (all time) and returns its non-empty keys, most requests first.
func topKeys(a *api, token, by, scope string) ([]string, error) {
	var agg aggReply
	q := url.Values{"by": {by}}
	if scope != "" {
		q.Set("scope", scope)
	}
	if _, err := a.get("/usage/aggregate", q, token, &agg); err != nil {
		return nil, err
	}
	type kv struct {
		k string
		n int64
	}
	var items []kv
	for _, it := range agg.Items {
		n, _ := it.Requests.Int64()
		if k := keyStr(it.Key); k != "" && n > 0 {
			items = append(items, kv{k, n})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].n > items[j].n })
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.k
	}
	return keys, nil
}

// memberCounts is the number of events per member id (owner, scope=all, by=member).
func memberCounts(a *api, ownerToken string) (map[int64]int64, error) {
	var agg aggReply
	if _, err := a.get("/usage/aggregate", url.Values{"scope": {"all"}, "by": {"member"}}, ownerToken, &agg); err != nil {
		return nil, err
	}
	out := map[int64]int64{}
	for _, it := range agg.Items {
		id, err := strconv.ParseInt(keyStr(it.Key), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("by=member key %s is not a member id", it.Key)
		}
		out[id], _ = it.Requests.Int64()
	}
	return out, nil
}

type pick struct {
	id     int64
	token  string
	events int64
	why    string
}

// pickMembers chooses the members the dashboard is timed for: the one with the most events,
// the median one, the one with the fewest (but some), and two more at random (seeded).
func pickMembers(d *Demo, counts map[int64]int64, n int, seed int64) []pick {
	var all []pick
	for id, c := range counts {
		if tok := d.TokenOf(id); tok != "" && c > 0 {
			all = append(all, pick{id: id, token: tok, events: c})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].events != all[j].events {
			return all[i].events > all[j].events
		}
		return all[i].id < all[j].id
	})
	if len(all) == 0 {
		return nil
	}
	chosen := map[int64]bool{}
	var out []pick
	add := func(p pick, why string) {
		if !chosen[p.id] && len(out) < n {
			chosen[p.id] = true
			p.why = why
			out = append(out, p)
		}
	}
	add(all[0], "most events")
	add(all[len(all)/2], "median")
	add(all[len(all)-1], "fewest events")
	rng := rand.New(rand.NewSource(seed))
	for tries := 0; len(out) < n && tries < 100; tries++ {
		add(all[rng.Intn(len(all))], "random")
	}
	return out
}

func cmdDashboard(args []string) error {
	fs := flag.NewFlagSet("dashboard", flag.ExitOnError)
	var cf commonFlags
	cf.register(fs)
	reps := fs.Int("reps", 5, "timed runs of each query (after one warm-up run)")
	nMembers := fs.Int("members", 5, "members to time the dashboard for")
	nGranters := fs.Int("granters", 2, "granters to time the granted views for")
	depth := fs.Int("depth", 20, "pages to follow by cursor")
	verbose := fs.Bool("v", false, "print every query's median")
	fs.Parse(args)
	d, err := loadDemo(cf.demo)
	if err != nil {
		return err
	}
	a, err := newAPI(cf.base, 16)
	if err != nil {
		return err
	}
	r := &dashRun{a: a, reps: *reps, log: *verbose}
	counts, err := memberCounts(a, d.Owner.Token)
	if err != nil {
		return err
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	members := pickMembers(d, counts, *nMembers, 1)
	if len(members) == 0 {
		return errors.New("no member with events has a token in demo.json")
	}
	now := time.Now()
	fmt.Printf("dashboard at %d events; members:", total)
	for _, m := range members {
		fmt.Printf(" %d (%d events, %s)", m.id, m.events, m.why)
	}
	fmt.Println()

	aggOwn := &category{name: "aggregate, own (overview charts)", target: "<= 50 ms", limit: 50 * time.Millisecond}
	aggGranted := &category{name: "aggregate, granted (granted charts)", target: "<= 50 ms", limit: 50 * time.Millisecond}
	first := &category{name: "usage log, first page (any filter)", target: "<= 20 ms", limit: 20 * time.Millisecond}
	deep := &category{name: fmt.Sprintf("usage log, pages 2..%d by cursor", *depth+1), target: "<= 20 ms", limit: 20 * time.Millisecond}
	gFirst := &category{name: "granted log, first page", target: "<= 20 ms", limit: 20 * time.Millisecond}
	gDeep := &category{name: fmt.Sprintf("granted log, pages 2..%d by cursor", *depth+1), target: "<= 20 ms", limit: 20 * time.Millisecond}
	overview := &category{name: "overview page: 7 aggregates in parallel", target: "(info)", limit: time.Hour}

	// deepWalk follows nextCursor depth pages (once, to collect the cursors), then times the
	// first page and each deep page, and keeps the worst deep page against its own first page.
	type series struct {
		name        string
		first, deep time.Duration
	}
	var walks []series
	deepWalk := func(cat *category, who, path string, q url.Values, token string) error {
		var cursors []string
		cur := ""
		for i := 0; i < *depth; i++ {
			var p page
			qq := with(q, "cursor", cur)
			if cur == "" {
				qq.Del("cursor")
			}
			if _, err := a.get(path, qq, token, &p); err != nil {
				return err
			}
			if p.NextCursor == nil || *p.NextCursor == "" {
				break
			}
			cur = *p.NextCursor
			cursors = append(cursors, cur)
		}
		names := []string{fmt.Sprintf("%s %s %s page 1", who, path, qs(q))}
		queries := []url.Values{q}
		for i, c := range cursors {
			names = append(names, fmt.Sprintf("%s %s %s page %d", who, path, qs(q), i+2))
			queries = append(queries, with(q, "cursor", c))
		}
		qts, err := r.timeInTurn(names, path, queries, token)
		if err != nil {
			return err
		}
		sr := series{name: fmt.Sprintf("%s %s %s", who, path, qs(q)), first: qts[0].median()}
		for _, qt := range qts[1:] {
			cat.queries = append(cat.queries, qt)
			sr.deep = max(sr.deep, qt.median())
		}
		if len(cursors) > 0 {
			walks = append(walks, sr)
		}
		if len(cursors) < *depth {
			fmt.Printf("    note: %s %s %s has only %d pages after the first\n", who, path, qs(q), len(cursors))
		}
		return nil
	}

	for _, m := range members {
		who := fmt.Sprintf("member %d", m.id)
		var agg aggReply
		for _, rg := range ranges(now) {
			for _, by := range []string{"day", "month", "usageType", "app", "model", "project", "source"} {
				qt, err := r.time(fmt.Sprintf("%s aggregate by=%s range=%s", who, by, rg.name), "/usage/aggregate", with(rg.q, "by", by), m.token, &agg)
				if err != nil {
					return err
				}
				aggOwn.queries = append(aggOwn.queries, qt)
			}
		}
		// The overview page as the SPA loads it: the seven aggregates of a range at once.
		for _, rg := range ranges(now) {
			qt := queryTiming{name: fmt.Sprintf("%s overview range=%s", who, rg.name)}
			for i := 0; i <= *reps; i++ {
				var wg sync.WaitGroup
				var mu sync.Mutex
				var ferr error
				start := time.Now()
				for _, by := range []string{"day", "month", "usageType", "app", "model", "project", "source"} {
					wg.Add(1)
					go func(by string) {
						defer wg.Done()
						var agg aggReply
						if _, err := a.get("/usage/aggregate", with(rg.q, "by", by), m.token, &agg); err != nil {
							mu.Lock()
							ferr = err
							mu.Unlock()
						}
					}(by)
				}
				wg.Wait()
				if ferr != nil {
					return ferr
				}
				if i > 0 {
					qt.runs = append(qt.runs, time.Since(start))
				}
			}
			overview.queries = append(overview.queries, qt)
		}

		models, err := topKeys(a, m.token, "model", "")
		if err != nil {
			return err
		}
		apps, err := topKeys(a, m.token, "app", "")
		if err != nil {
			return err
		}
		projects, err := topKeys(a, m.token, "project", "")
		if err != nil {
			return err
		}
		filters := []url.Values{{}, {"source": {"personal"}}, {"model": {"no-such-model-bench"}}, {"sort": {"-credits"}}, {"sort": {"-totalTokens"}}}
		if len(models) > 0 {
			filters = append(filters, url.Values{"model": {models[0]}}, url.Values{"model": {models[len(models)-1]}},
				url.Values{"model": {models[0]}, "sort": {"-credits"}}, url.Values{"model": {models[len(models)-1]}, "sort": {"-totalTokens"}})
			r30 := ranges(now)[1].q
			filters = append(filters, with(r30, "model", models[0]))
		}
		if len(apps) > 0 {
			filters = append(filters, url.Values{"app": {apps[0]}}, url.Values{"app": {apps[len(apps)-1]}, "sort": {"-credits"}})
			if len(models) > 0 {
				filters = append(filters, url.Values{"app": {apps[0]}, "model": {models[0]}})
				filters = append(filters, url.Values{"app": {apps[len(apps)-1]}, "model": {models[len(models)-1]}})
			}
		}
		if len(projects) > 0 {
			filters = append(filters, url.Values{"project": {projects[0]}})
			if len(models) > 0 && len(apps) > 0 {
				filters = append(filters, url.Values{"project": {projects[0]}, "model": {models[0]}, "app": {apps[0]}, "source": {"personal"}})
			}
		}
		for _, f := range filters {
			var p page
			qt, err := r.time(fmt.Sprintf("%s GET /usage %s", who, qs(f)), "/usage", f, m.token, &p)
			if err != nil {
				return err
			}
			first.queries = append(first.queries, qt)
		}
		deepFilters := []url.Values{{}, {"sort": {"-credits"}}}
		if len(models) > 0 {
			deepFilters = append(deepFilters, url.Values{"model": {models[0]}})
		}
		for _, f := range deepFilters {
			if err := deepWalk(deep, who, "/usage", f, m.token); err != nil {
				return err
			}
		}
	}

	granters := d.Granters
	if len(granters) > *nGranters {
		// the granters with the most granted events first
		type gc struct {
			i int
			n int64
		}
		var gs []gc
		for i, g := range granters {
			var agg aggReply
			if _, err := a.get("/usage/aggregate", url.Values{"scope": {"granted"}, "by": {"month"}}, g.Token, &agg); err != nil {
				return err
			}
			n, _ := agg.Totals.Requests.Int64()
			gs = append(gs, gc{i, n})
		}
		sort.SliceStable(gs, func(i, j int) bool { return gs[i].n > gs[j].n })
		var keep []int
		keep = append(keep, gs[0].i)
		if len(gs) > 1 {
			keep = append(keep, gs[len(gs)/2].i)
		}
		for _, x := range gs[1:] {
			if len(keep) >= *nGranters {
				break
			}
			if x.i != keep[len(keep)-1] && x.i != keep[0] {
				keep = append(keep, x.i)
			}
		}
		sel := granters[:0:0]
		for _, i := range keep[:min(len(keep), *nGranters)] {
			sel = append(sel, granters[i])
		}
		granters = sel
	}
	for _, g := range granters {
		who := fmt.Sprintf("granter %d", g.ID)
		var agg aggReply
		if _, err := a.get("/usage/aggregate", url.Values{"scope": {"granted"}, "by": {"month"}}, g.Token, &agg); err == nil {
			fmt.Printf("    %s: %s granted events\n", who, agg.Totals.Requests)
		}
		for _, rg := range ranges(now) {
			for _, by := range []string{"member", "model", "project", "day"} {
				qt, err := r.time(fmt.Sprintf("%s aggregate scope=granted by=%s range=%s", who, by, rg.name), "/usage/aggregate", with(rg.q, "scope", "granted", "by", by), g.Token, &agg)
				if err != nil {
					return err
				}
				aggGranted.queries = append(aggGranted.queries, qt)
			}
		}
		grantees, err := topKeys(a, g.Token, "member", "granted")
		if err != nil {
			return err
		}
		models, err := topKeys(a, g.Token, "model", "granted")
		if err != nil {
			return err
		}
		filters := []url.Values{{}, {"sort": {"-credits"}}}
		if len(grantees) > 0 {
			filters = append(filters, url.Values{"member": {grantees[0]}})
		}
		if len(models) > 0 {
			filters = append(filters, url.Values{"model": {models[0]}}, url.Values{"model": {models[len(models)-1]}})
		}
		for _, f := range filters {
			var p page
			qt, err := r.time(fmt.Sprintf("%s GET /granted/usage %s", who, qs(f)), "/granted/usage", f, g.Token, &p)
			if err != nil {
				return err
			}
			gFirst.queries = append(gFirst.queries, qt)
		}
		if err := deepWalk(gDeep, who, "/granted/usage", url.Values{}, g.Token); err != nil {
			return err
		}
	}

	fmt.Println()
	var who []string
	for _, m := range members {
		who = append(who, fmt.Sprintf("%d:%d", m.id, m.events))
	}
	emit(cf.results, Row{Metric: "dashboard dataset", Target: "10,000,000 events", Measured: fmt.Sprintf("%d events", total), Result: "INFO",
		Note: fmt.Sprintf("members (id:events) %s; %d granters; %d timed runs per query after 1 warm-up", strings.Join(who, " "), len(granters), *reps)})
	for _, c := range []*category{aggOwn, aggGranted, first, deep, gFirst, gDeep} {
		if err := emit(cf.results, c.row()); err != nil {
			return err
		}
	}
	ov := overview.row()
	ov.Result = "INFO"
	emit(cf.results, ov)
	// "Deep pages by cursor as fast as the first": for each walk, its slowest deep page against
	// its own first page (same filter and sort). Within 1.25x, or 5 ms, counts as as fast (sub-millisecond pages jitter).
	if len(walks) > 0 {
		// excess is how far a walk's slowest deep page is past what counts as as fast.
		excess := func(w series) time.Duration { return w.deep - max(w.first*5/4, w.first+5*time.Millisecond) }
		ratio := func(w series) float64 { return float64(w.deep) / float64(max(w.first, time.Microsecond)) }
		worst := walks[0]
		for _, w := range walks {
			if excess(w) > excess(worst) {
				worst = w
			}
		}
		emit(cf.results, Row{Metric: "deep page vs its first page (worst walk)", Target: "<= 1.25x or +5 ms", Measured: fmt.Sprintf("%.2fx (%s vs %s)", ratio(worst), ms(worst.deep), ms(worst.first)),
			Result: passFail(excess(worst) <= 0), Note: fmt.Sprintf("%d walks; worst: %s", len(walks), worst.name)})
	}
	// The slowest queries, for whoever tunes them.
	var allq []queryTiming
	for _, c := range []*category{aggOwn, aggGranted, first, deep, gFirst, gDeep} {
		allq = append(allq, c.queries...)
	}
	sort.Slice(allq, func(i, j int) bool { return allq[i].median() > allq[j].median() })
	fmt.Println("slowest queries (median):")
	for _, q := range allq[:min(20, len(allq))] {
		fmt.Printf("  %10s  %s\n", ms(q.median()), q.name)
	}
	return nil
}

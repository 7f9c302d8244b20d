package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"tokenjar/server/demo"
)

// cmdSeedAPI fills a fresh tokenjar through its public API only: the owner (POST /setup),
// apps, members with personal tokens, grants, delegations, and N usage reports backfilled over
// two years (the `timestamp` field), with each member keeping to a few favorite apps, models and
// projects. It writes DIR/demo.json in the format of `tokenjar demo --events N`.
//
// It is the benchmark's fallback while a tokenjar build has no `demo --events`; it is slower
// than the engine-side generator (every report is a durable POST), and its events are charged
// at today's balances rather than on a moving clock.
func cmdSeedAPI(args []string) error {
	fs := flag.NewFlagSet("seedapi", flag.ExitOnError)
	var cf commonFlags
	cf.register(fs)
	data := fs.String("data", "", "the data folder the server runs on (demo.json goes there)")
	events := fs.Int64("events", 100000, "usage reports to write")
	nMembers := fs.Int("members", 200, "members")
	nApps := fs.Int("apps", 20, "apps")
	nModels := fs.Int("models", 30, "models")
	nProjects := fs.Int("projects", 60, "projects")
	days := fs.Int("days", 364, "days of history, ending now (POST /usage takes backfill up to a year back)")
	workers := fs.Int("workers", 32, "concurrent reporters")
	seed := fs.Int64("seed", 1, "random seed")
	fs.Parse(args)
	a, err := newAPI(cf.base, *workers+8)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewSource(*seed))
	var d Demo
	d.Owner.Email, d.Owner.Password = "owner@example.org", "bench-owner-password"
	var setup struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
		Token string `json:"token"`
	}
	if _, _, err := a.call("POST", "/setup", "", map[string]any{"email": d.Owner.Email, "name": "Bench Owner", "password": d.Owner.Password, "timeZone": "UTC", "creditsPerUSD": 1000}, &setup); err != nil {
		return fmt.Errorf("setup (the data folder must be fresh): %w", err)
	}
	d.Owner.ID, d.Owner.Token = setup.User.ID, setup.Token
	owner := d.Owner.Token

	for i := 0; i < *nApps; i++ {
		var ap demo.ScaleApp
		if _, _, err := a.call("POST", "/apps", owner, map[string]any{"name": fmt.Sprintf("Bench App %02d", i+1)}, &ap); err != nil {
			return err
		}
		d.Apps = append(d.Apps, ap)
	}
	providers := []string{"OpenAI", "Anthropic", "Google", "Mistral", "Meta"}
	for i := 0; i < *nModels; i++ {
		d.Models = append(d.Models, fmt.Sprintf("%s-model-%02d", []string{"gpt", "claude", "gemini", "mistral", "llama"}[i%5], i+1))
	}
	for i := 0; i < *nProjects; i++ {
		d.Projects = append(d.Projects, fmt.Sprintf("project-%02d", i+1))
	}
	start := time.Now()
	type member struct {
		id                     int64
		email, token           string
		apps, models, projects []int
		weight                 float64
	}
	members := make([]member, *nMembers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	var firstErr error
	for i := range members {
		members[i].email = fmt.Sprintf("member%03d@example.org", i+1)
		// a few favorites each; a Zipf-like weight makes some members much busier than others
		members[i].weight = 1 / math.Pow(float64(i+1), 0.8)
		for k := 0; k < 3; k++ {
			members[i].apps = append(members[i].apps, rng.Intn(*nApps))
			members[i].models = append(members[i].models, rng.Intn(*nModels))
			members[i].projects = append(members[i].projects, rng.Intn(*nProjects))
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			m := &members[i]
			var r struct {
				ID int64 `json:"id"`
			}
			_, _, err := a.call("POST", "/members", owner, map[string]any{"email": m.email, "name": fmt.Sprintf("Member %03d", i+1), "password": "bench-member-password"}, &r)
			if err == nil {
				m.id = r.ID
				_, _, err = a.call("POST", "/members/"+strconv.FormatInt(m.id, 10)+"/grants", owner, map[string]any{"kind": "addon", "credits": 10000000, "note": "bench seed"}, nil)
			}
			if err == nil {
				m.token, _, err = loginToken(a, m.email, "bench-member-password", "bench")
			}
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	for _, m := range members {
		d.Members = append(d.Members, demo.ScaleMember{ID: m.id, Email: m.email, Token: m.token})
	}
	// 10 granters, each giving a monthly allowance to 5 others.
	for g := 0; g < 10 && g < len(members); g++ {
		gr := demo.ScaleGrant{ID: members[g].id, Token: members[g].token}
		for k := 1; k <= 5; k++ {
			to := members[(g*7+k*13)%len(members)]
			if to.id == gr.ID {
				continue
			}
			var dl struct {
				ID int64 `json:"id"`
			}
			if _, _, err := a.call("POST", "/delegations", gr.Token, map[string]any{"granteeId": to.id, "credits": 500, "period": "month"}, &dl); err != nil {
				return err
			}
			gr.Delegations = append(gr.Delegations, dl.ID)
		}
		d.Granters = append(d.Granters, gr)
	}
	fmt.Printf("seedapi: owner, %d apps, %d members, %d granters in %s\n", len(d.Apps), len(d.Members), len(d.Granters), time.Since(start).Round(time.Millisecond))

	// cumulative weights for picking members
	cum := make([]float64, len(members))
	total := 0.0
	for i, m := range members {
		total += m.weight
		cum[i] = total
	}
	end := time.Now().Add(-time.Minute)
	span := time.Duration(*days) * 24 * time.Hour
	d.From, d.To = end.Add(-span).UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)
	var next, done atomic.Int64
	began := time.Now()
	errc := make(chan error, *workers)
	for w := 0; w < *workers; w++ {
		go func(w int) {
			r := rand.New(rand.NewSource(*seed*1000 + int64(w)))
			for {
				n := next.Add(1)
				if n > *events {
					errc <- nil
					return
				}
				x := r.Float64() * total
				mi := 0
				for lo, hi := 0, len(cum)-1; lo <= hi; {
					mid := (lo + hi) / 2
					if cum[mid] >= x {
						mi, hi = mid, mid-1
					} else {
						lo = mid + 1
					}
				}
				m := members[mi]
				fav := func(list []int, all int) int {
					if r.Intn(10) < 9 {
						return list[r.Intn(len(list))]
					}
					return r.Intn(all)
				}
				app := d.Apps[fav(m.apps, len(d.Apps))]
				mo := fav(m.models, len(d.Models))
				in, out := 200+r.Intn(3800), 50+r.Intn(1200)
				cost := float64(in*(100+mo*100)+out*(400+mo*400)) / 1e9
				at := end.Add(-time.Duration(math.Pow(r.Float64(), 1.3) * float64(span))) // busier lately
				body := map[string]any{"aiAgentId": app.Slug, "userId": m.id, "description": "Bench seed report", "usageType": "token_usage",
					"model": d.Models[mo], "provider": providers[mo%5], "modality": "text", "inputTokens": in, "outputTokens": out,
					"totalCost": json.Number(strconv.FormatFloat(cost, 'f', 9, 64)), "project": d.Projects[fav(m.projects, len(d.Projects))],
					"timestamp": at.UTC().Format(time.RFC3339), "idempotencyKey": fmt.Sprintf("seed-%d", n)}
				if _, _, err := a.call("POST", "/usage", app.Key, body, nil); err != nil {
					errc <- fmt.Errorf("report %d: %w", n, err)
					return
				}
				if c := done.Add(1); c%100000 == 0 {
					fmt.Printf("  %d reports, %.0f/s\n", c, float64(c)/time.Since(began).Seconds())
				}
			}
		}(w)
	}
	for w := 0; w < *workers; w++ {
		if err := <-errc; err != nil {
			return err
		}
	}
	el := time.Since(began)
	d.Events = done.Load()
	fmt.Printf("seedapi: %d reports in %s (%.0f/s)\n", d.Events, el.Round(time.Millisecond), float64(d.Events)/el.Seconds())
	b, _ := json.MarshalIndent(d, "", "  ")
	return os.WriteFile(filepath.Join(*data, "demo.json"), b, 0o600)
}

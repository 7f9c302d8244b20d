package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"
	"time"

	"tokenjar/server/core"
)

// ScaleInfo is what the scale generator leaves for load tests (written to demo.json).
type ScaleInfo struct {
	Events   int64         `json:"events"`
	From     string        `json:"from"`
	To       string        `json:"to"`
	Owner    ScaleAccount  `json:"owner"`
	Apps     []ScaleApp    `json:"apps"`
	Members  []ScaleMember `json:"members"`
	Granters []ScaleGrant  `json:"granters"`
	Models   []string      `json:"models"`
	Projects []string      `json:"projects"`
}

// TokenOf is the personal token of the owner, a member or a granter; "" for an unknown id.
func (info ScaleInfo) TokenOf(id int64) string {
	if id == info.Owner.ID {
		return info.Owner.Token
	}
	for _, m := range info.Members {
		if m.ID == id {
			return m.Token
		}
	}
	for _, g := range info.Granters {
		if g.ID == id {
			return g.Token
		}
	}
	return ""
}

type ScaleAccount struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

type ScaleApp struct {
	ID   int64  `json:"id"`
	Slug string `json:"slug"`
	Key  string `json:"key"`
}

type ScaleMember struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Token string `json:"token"`
}

type ScaleGrant struct {
	ID          int64   `json:"id"`
	Token       string  `json:"token"`
	Delegations []int64 `json:"delegations"`
}

// scaleModels are 30 models with list prices (nano-USD per token, or per image/second).
func scaleModels() []Model {
	ms := append([]Model{}, Models...)
	extra := []struct {
		name, provider string
		in, out        int64
	}{
		{"gpt-4.1", "OpenAI", 2000, 8000}, {"gpt-4.1-mini", "OpenAI", 400, 1600}, {"gpt-4.1-nano", "OpenAI", 100, 400},
		{"o3", "OpenAI", 2000, 8000}, {"o4-mini", "OpenAI", 1100, 4400}, {"claude-opus-4", "Anthropic", 15000, 75000},
		{"claude-sonnet-3.7", "Anthropic", 3000, 15000}, {"gemini-2.5-pro", "Google", 1250, 10000}, {"gemini-2.0-flash", "Google", 100, 400},
		{"mistral-large", "Mistral", 2000, 6000}, {"mistral-small", "Mistral", 100, 300}, {"codestral", "Mistral", 300, 900},
		{"llama-3.3-70b", "Meta", 600, 600}, {"llama-4-maverick", "Meta", 200, 600}, {"deepseek-v3", "DeepSeek", 270, 1100},
		{"deepseek-r1", "DeepSeek", 550, 2190}, {"command-r-plus", "Cohere", 2500, 10000}, {"command-r", "Cohere", 150, 600},
		{"grok-3", "xAI", 3000, 15000}, {"grok-3-mini", "xAI", 300, 500}, {"qwen-2.5-72b", "Alibaba", 400, 1200},
		{"text-embedding-3-large", "OpenAI", 130, 0},
	}
	for _, e := range extra {
		modality := "text"
		if strings.Contains(e.name, "embedding") {
			modality = "embedding"
		}
		ms = append(ms, Model{Name: e.name, Provider: e.provider, Modality: modality, In: e.in, Out: e.out})
	}
	return ms[:30]
}

var firstNames = strings.Fields("Ada Alan Grace Linus Margaret Dennis Barbara Ken Radia Tim Frances Edsger Hedy John Katherine Donald Sophie Guido Anita Bjarne Mary Niklaus Shafi Whitfield Jean Leslie Fran Vint Lynn Adele")
var lastNames = strings.Fields("Lovelace Turing Hopper Torvalds Hamilton Ritchie Liskov Thompson Perlman Berners-Lee Allen Dijkstra Lamarr McCarthy Johnson Knuth Wilson Rossum Borg Stroustrup Keller Wirth Goldwasser Diffie Bartik Lamport Conway Cerf Conway Goldberg")

// Scale fills a fresh instance with n events: 200 members, 20 apps, 30 models, two years ending
// at end. Members have favourite apps, models and projects and very different activity, as real
// people do; some receive allowances from others. Everything goes through the real engine in
// batches, on a clock that walks the two years.
func Scale(ctx context.Context, svc *core.Service, clock *Clock, dataDir string, end time.Time, n int64, seed int64, progress func(done int64)) (ScaleInfo, error) {
	rng := rand.New(rand.NewSource(seed))
	const members, apps, days = 200, 20, 730
	start := end.AddDate(0, 0, -days)
	clock.Set(start)
	name, perUSD, tz := "Scale test", "1000", svc.Settings().TimeZone
	res, err := svc.Setup(ctx, core.NewMember{Email: "owner@example.org", Name: "Owner", Password: FamilyPassword},
		core.SettingsUpdate{InstanceName: &name, CreditsPerUSD: &perUSD, TimeZone: &tz})
	if err != nil {
		return ScaleInfo{}, err
	}
	info := ScaleInfo{Events: n, From: start.UTC().Format(time.RFC3339), To: end.UTC().Format(time.RFC3339),
		Owner: ScaleAccount{ID: res.User.ID, Email: "owner@example.org", Password: FamilyPassword, Token: res.Token}}
	op := core.Operator
	models := scaleModels()
	for _, m := range models {
		info.Models = append(info.Models, m.Name)
	}
	appNames := strings.Fields("Homework-Helper Family-Chat Photo-Studio Code-Buddy Voice-Notes Essay-Coach Research-Desk Slide-Maker Inbox-Zero Meeting-Notes Translate-It Recipe-Bot Travel-Planner Study-Cards Story-Teller Sheet-Wizard Bug-Hunter Docs-Writer Tutor-Math Daily-Digest")
	for _, a := range appNames[:apps] {
		na, err := svc.CreateApp(ctx, op, strings.ReplaceAll(a, "-", " "), "")
		if err != nil {
			return info, err
		}
		info.Apps = append(info.Apps, ScaleApp{ID: na.ID, Slug: na.Slug, Key: na.Key})
	}
	for i := 0; i < 60; i++ {
		info.Projects = append(info.Projects, fmt.Sprintf("%s %d", []string{"Course", "Client", "Thesis", "Launch", "Research", "Ops"}[i%6], i/6+1))
	}
	type profile struct {
		id             int64
		apps           []ScaleApp
		models         []Model
		projects       []string
		weight         float64
		monthly, topup core.Credits
	}
	var people []profile
	var totalWeight float64
	for i := 0; i < members; i++ {
		email := fmt.Sprintf("member%03d@example.org", i+1)
		nm := firstNames[rng.Intn(len(firstNames))] + " " + lastNames[rng.Intn(len(lastNames))]
		m, err := svc.CreateMember(ctx, op, core.NewMember{Email: email, Name: nm})
		if err != nil {
			return info, err
		}
		p := profile{id: m.ID, weight: math.Exp(rng.NormFloat64() * 0.9)} // a few heavy users, many light ones
		for k := 0; k < 2+rng.Intn(3); k++ {
			p.apps = append(p.apps, info.Apps[rng.Intn(len(info.Apps))])
		}
		for k := 0; k < 3+rng.Intn(3); k++ {
			p.models = append(p.models, models[rng.Intn(len(models))])
		}
		for k := 0; k < 2+rng.Intn(3); k++ {
			p.projects = append(p.projects, info.Projects[rng.Intn(len(info.Projects))])
		}
		p.monthly = core.Credits((5 + rng.Int63n(95)) * 1_000_000)
		p.topup = core.Credits((10 + rng.Int63n(200)) * 1_000_000)
		totalWeight += p.weight
		people = append(people, p)
		if _, err := svc.SetPlan(ctx, op, m.ID, p.monthly, true); err != nil {
			return info, err
		}
		if _, err := svc.Grant(ctx, op, m.ID, core.NewGrant{Kind: core.KindAddon, Credits: p.topup, Note: "Top-up"}); err != nil {
			return info, err
		}
		tok, err := svc.CreateToken(ctx, core.Principal{Via: core.ViaToken, UserID: m.ID, Role: core.RoleMember}, "load test", 0)
		if err != nil {
			return info, err
		}
		info.Members = append(info.Members, ScaleMember{ID: m.ID, Email: email, Token: tok.Token})
	}
	// Twenty granters give weekly or monthly allowances to two to five others each.
	for g := 0; g < 20; g++ {
		granter := info.Members[g*10]
		sg := ScaleGrant{ID: granter.ID, Token: granter.Token}
		gp := core.Principal{Via: core.ViaToken, UserID: granter.ID, Role: core.RoleMember}
		for k := 0; k < 2+rng.Intn(4); k++ {
			grantee := info.Members[(g*10+1+k*3+rng.Intn(2))%members]
			period := []string{"week", "month"}[rng.Intn(2)]
			d, err := svc.CreateDelegation(ctx, gp, core.NewDelegation{GranteeID: grantee.ID, Credits: core.Credits((1 + rng.Int63n(20)) * 1_000_000), Period: period, Note: "Team allowance"})
			if err != nil {
				return info, err
			}
			sg.Delegations = append(sg.Delegations, d.ID)
		}
		info.Granters = append(info.Granters, sg)
	}

	// One account is an automation (a nightly batch job) that makes about 14% of all requests,
	// as real instances often have: it is also the member whose export passes a million rows
	// at ten million events.
	people[0].weight = totalWeight * 0.163
	totalWeight = 0
	for _, p := range people {
		totalWeight += p.weight
	}
	// Cumulative weights pick the member of each event in O(log n).
	cum := make([]float64, len(people))
	acc := 0.0
	for i, p := range people {
		acc += p.weight / totalWeight
		cum[i] = acc
	}
	pick := func() *profile {
		i := sort.SearchFloat64s(cum, rng.Float64())
		return &people[min(i, len(people)-1)]
	}
	perDay := float64(n) / days
	var done int64
	const batch = 2000
	reps := make([]core.UsageReport, 0, batch)
	times := make([]time.Time, 0, 32768)
	err = onDays(ctx, svc, clock, start, end, dataDir, func(day time.Time, i int) error {
		if i == days-1 || done >= n {
			return nil
		}
		want := int64(perDay * (0.75 + 0.5*rng.Float64()))
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			want = want * 6 / 10
		}
		want = min(want, n-done)
		if i == days-2 {
			want = n - done // the last full day takes the rest, so the count is exact
		}
		times = times[:0]
		for k := int64(0); k < want; k++ {
			times = append(times, day.Add(time.Duration(rng.Int63n(int64(24*time.Hour)))))
		}
		sort.Slice(times, func(a, b int) bool { return times[a].Before(times[b]) })
		for k, at := range times {
			p := pick()
			m := p.models[rng.Intn(len(p.models))]
			app := p.apps[rng.Intn(len(p.apps))]
			r := report(rng, m, p.id, app.Slug, p.projects[rng.Intn(len(p.projects))], "Scale test request", at)
			r.ModelParameters = "" // keep rows lean, as most agents report
			reps = append(reps, r)
			if len(reps) == batch || k == len(times)-1 {
				clock.Set(at)
				if _, err := svc.ChargeBatch(ctx, op, reps); err != nil {
					return err
				}
				done += int64(len(reps))
				reps = reps[:0]
				if progress != nil {
					progress(done)
				}
			}
		}
		return nil
	})
	clock.Set(end)
	info.Events = done
	return info, err
}

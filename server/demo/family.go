package demo

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"time"

	"tokenjar/server/core"
)

// FamilyPassword is the password of every demo account.
const FamilyPassword = "demo-password"

type person struct {
	id       int64
	email    string
	name     string
	role     string
	plan     core.Credits
	perDay   [2]int // events on a weekday, at most
	weekend  [2]int
	apps     []string
	models   []string
	projects []string
	tasks    []string
	hours    [2]int
}

// Family fills a fresh instance with three months of a family's usage ending at end: two
// parents and two children, five apps, eight models, Monthly plans, a top-up, promo credits
// that expire, weekly and daily allowances for the children, a refund and some debt.
func Family(ctx context.Context, svc *core.Service, clock *Clock, dataDir string, end time.Time, seed int64) (string, error) {
	rng := rand.New(rand.NewSource(seed))
	start := end.AddDate(0, 0, -91)
	clock.Set(start)
	tz := svc.Settings().TimeZone
	name := "The Parkers' AI jar"
	perUSD := "1000"
	res, err := svc.Setup(ctx, core.NewMember{Email: "alex@example.org", Name: "Alex Parker", Password: FamilyPassword},
		core.SettingsUpdate{InstanceName: &name, TimeZone: &tz, CreditsPerUSD: &perUSD})
	if err != nil {
		return "", err
	}
	owner := core.Operator
	people := []*person{
		{id: res.User.ID, email: "alex@example.org", name: "Alex Parker", role: "owner", plan: 3_000_000,
			perDay: [2]int{6, 14}, weekend: [2]int{0, 4}, apps: []string{"code-buddy", "family-chat", "code-buddy"},
			models:   []string{"claude-sonnet-4", "gpt-4o", "claude-haiku-3.5", "text-embedding-3-small"},
			projects: []string{"Work: Q4 report", "Garden planner", "Side project"}, hours: [2]int{8, 23},
			tasks: []string{"Refactored the billing module", "Summarised a long email thread", "Drafted a project update", "Explained a stack trace", "Planned the vegetable beds"}},
		{email: "sam@example.org", name: "Sam Parker", role: "admin", plan: 3_000_000,
			perDay: [2]int{2, 7}, weekend: [2]int{3, 9}, apps: []string{"family-chat", "photo-studio", "voice-notes", "family-chat"},
			models:   []string{"gpt-4o", "gpt-4o", "dall-e-3", "whisper-1", "gemini-2.5-flash", "gemini-2.5-flash", "gpt-4o-mini"},
			projects: []string{"Holiday trip", "Birthday party", ""}, hours: [2]int{7, 22},
			tasks: []string{"Planned a weekend trip", "Made a birthday invitation", "Transcribed a voice memo", "Compared train tickets"}},
		{email: "emma@example.org", name: "Emma Parker", role: "member", plan: 300_000,
			perDay: [2]int{2, 7}, weekend: [2]int{0, 3}, apps: []string{"homework-helper", "homework-helper", "family-chat"},
			models:   []string{"gpt-4o", "gpt-4o-mini", "gemini-2.5-flash"},
			projects: []string{"Maths", "History essay", "Biology", "French"}, hours: [2]int{15, 21},
			tasks: []string{"Checked a proof step by step", "Outlined an essay on the French Revolution", "Quizzed on cell biology", "Practised French verbs"}},
		{email: "leo@example.org", name: "Leo Parker", role: "member", plan: 0,
			perDay: [2]int{1, 4}, weekend: [2]int{1, 5}, apps: []string{"homework-helper", "family-chat", "photo-studio"},
			models:   []string{"gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "gemini-2.5-flash", "gpt-4o-mini", "gpt-4o-mini", "dall-e-3"},
			projects: []string{"Reading", "Spelling", "Dinosaurs"}, hours: [2]int{14, 20},
			tasks: []string{"Read a story together", "Practised spelling words", "Asked about the T. rex", "Drew a dragon"}},
	}
	for _, p := range people[1:] {
		m, err := svc.CreateMember(ctx, owner, core.NewMember{Email: p.email, Name: p.name, Password: FamilyPassword, Role: p.role})
		if err != nil {
			return "", err
		}
		p.id = m.ID
	}
	for _, a := range []string{"Homework Helper", "Family Chat", "Photo Studio", "Code Buddy", "Voice Notes"} {
		if _, err := svc.CreateApp(ctx, owner, a, ""); err != nil {
			return "", err
		}
	}
	for _, p := range people {
		if _, err := svc.SetPlan(ctx, owner, p.id, p.plan, true); err != nil {
			return "", err
		}
	}
	alex, sam, emma, leo := people[0], people[1], people[2], people[3]
	if _, err := svc.Grant(ctx, owner, alex.id, core.NewGrant{Kind: core.KindAddon, Credits: 5_000_000, Note: "Top-up"}); err != nil {
		return "", err
	}
	promoEnd := start.AddDate(0, 0, 14)
	if _, err := svc.Grant(ctx, owner, alex.id, core.NewGrant{Kind: core.KindEvent, Credits: 1_500_000, ExpiresAt: &promoEnd, Note: "Welcome bonus"}); err != nil {
		return "", err
	}
	emmaAllowance, err := svc.CreateDelegation(ctx, core.Principal{Via: core.ViaToken, UserID: alex.id, Role: alex.role},
		core.NewDelegation{GranteeID: emma.id, Credits: 400_000, Period: "week", Note: "Homework"})
	if err != nil {
		return "", err
	}
	if _, err := svc.CreateDelegation(ctx, core.Principal{Via: core.ViaToken, UserID: sam.id, Role: sam.role},
		core.NewDelegation{GranteeID: leo.id, Credits: 60_000, Period: "day", Note: "Reading & games"}); err != nil {
		return "", err
	}
	models := map[string]Model{}
	for _, m := range Models {
		models[m.Name] = m
	}
	var refundable []int64
	events := 0
	err = onDays(ctx, svc, clock, start, end, dataDir, func(day time.Time, i int) error {
		switch i {
		case 30:
			if _, err := svc.Grant(ctx, owner, sam.id, core.NewGrant{Kind: core.KindAddon, Credits: 2_000_000, Note: "Top-up"}); err != nil {
				return err
			}
		case 45:
			exp := day.AddDate(0, 0, 30)
			if _, err := svc.Grant(ctx, owner, leo.id, core.NewGrant{Kind: core.KindEvent, Credits: 300_000, ExpiresAt: &exp, Note: "Reading challenge"}); err != nil {
				return err
			}
		case 50:
			if len(refundable) > 0 {
				if _, err := svc.Refund(ctx, owner, refundable[len(refundable)-1]); err != nil {
					return err
				}
			}
		}
		type planned struct {
			at  time.Time
			rep core.UsageReport
		}
		var todays []planned
		weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
		for _, p := range people {
			lo, hi := p.perDay[0], p.perDay[1]
			if weekend {
				lo, hi = p.weekend[0], p.weekend[1]
			}
			n := lo + rng.Intn(hi-lo+1)
			for k := 0; k < n; k++ {
				at := day.Add(time.Duration(p.hours[0])*time.Hour + time.Duration(rng.Int63n(int64(p.hours[1]-p.hours[0])*int64(time.Hour))))
				m := models[p.models[rng.Intn(len(p.models))]]
				app := p.apps[rng.Intn(len(p.apps))]
				if m.Modality == "image" {
					app = "photo-studio"
				} else if m.Modality == "audio" {
					app = "voice-notes"
				}
				r := report(rng, m, p.id, app, p.projects[rng.Intn(len(p.projects))], p.tasks[rng.Intn(len(p.tasks))], at)
				if p == emma && app != "homework-helper" {
					r.BillingSource = "personal" // Emma's allowance is for homework
				}
				todays = append(todays, planned{at, r})
			}
		}
		sort.Slice(todays, func(a, b int) bool { return todays[a].at.Before(todays[b].at) })
		for _, pl := range todays {
			if pl.at.After(end) {
				break
			}
			clock.Set(pl.at)
			res, _, err := svc.ChargeUsage(ctx, owner, pl.rep)
			if err != nil {
				return fmt.Errorf("%s: %w", pl.at.Format(time.RFC3339), err)
			}
			if pl.rep.UserID == leo.id {
				refundable = append(refundable, res.ID)
			}
			events++
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	clock.Set(end)
	_ = emmaAllowance
	return fmt.Sprintf("%d events for 4 members over 91 days. Sign in as alex@example.org (owner), sam@example.org (admin), "+
		"emma@example.org or leo@example.org, password %q.", events, FamilyPassword), nil
}

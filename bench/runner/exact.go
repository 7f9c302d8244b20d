package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// chargeReply is POST /usage's reply, with money as exact decimals.
type chargeReply struct {
	ID             json.Number `json:"id"`
	CreditsCharged json.Number `json:"creditsCharged"`
	BillingSource  string      `json:"billingSource"`
	SourceNote     string      `json:"sourceNote"`
	Parts          []struct {
		BucketID json.Number `json:"bucketId"`
		Kind     string      `json:"kind"`
		Credits  json.Number `json:"credits"`
		Source   string      `json:"source"` // a delegation id, or "personal"
	} `json:"parts"`
	Debt json.Number `json:"debt"`
}

type balanceReply struct {
	Total json.Number `json:"total"`
	Debt  json.Number `json:"debt"`
}

func (b balanceReply) milli() (total, debt int64, err error) {
	if total, err = parseMilli(b.Total.String()); err != nil {
		return
	}
	debt, err = parseMilli(b.Debt.String())
	return
}

type delegationReply struct {
	ID                  json.Number `json:"id"`
	UsedThisPeriod      json.Number `json:"usedThisPeriod"`
	RemainingThisPeriod json.Number `json:"remainingThisPeriod"`
}

// checks collects the exactness checks: each compares a measured amount with the one the rules
// allow.
type checks struct {
	failed []string
	n      int
}

func (c *checks) eq(what string, got, want int64, money bool) {
	c.n++
	f := func(v int64) string {
		if money {
			return fmtMilli(v)
		}
		return strconv.FormatInt(v, 10)
	}
	status := "ok"
	if got != want {
		status = "WRONG"
		c.failed = append(c.failed, fmt.Sprintf("%s: %s, the rules allow %s", what, f(got), f(want)))
	}
	fmt.Printf("    %-62s %14s  expected %14s  %s\n", what, f(got), f(want), status)
}

func cmdExact(args []string) error {
	fs := flag.NewFlagSet("exact", flag.ExitOnError)
	var cf commonFlags
	cf.register(fs)
	n := fs.Int("n", 1000, "concurrent reports (half personal, half naming the delegation)")
	charge := fs.String("credits", "0.137", "credits per report")
	wallet := fs.String("wallet", "50", "the grantee's Recharge grant, in credits")
	allowance := fs.String("allowance", "20", "the delegation's one-off allowance, in credits")
	granterGrant := fs.String("granter-credits", "1000", "the granter's Recharge grant, in credits")
	dups := fs.Int("dups", 100, "extra idempotency keys, each sent twice at once")
	fs.Parse(args)
	d, err := loadDemo(cf.demo)
	if err != nil {
		return err
	}
	c, err1 := parseMilli(*charge)
	w, err2 := parseMilli(*wallet)
	A, err3 := parseMilli(*allowance)
	G, err4 := parseMilli(*granterGrant)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return err
	}
	a, err := newAPI(cf.base, *n+2**dups)
	if err != nil {
		return err
	}
	a.hc.Transport.(*http.Transport).MaxConnsPerHost = 0
	owner := d.Owner.Token
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	const pw = "bench-exact-password"

	newMember := func(role string) (int64, string, string, error) {
		email := fmt.Sprintf("bench-exact-%s-%s@example.org", role, nonce)
		var m struct {
			ID json.Number `json:"id"`
		}
		if _, _, err := a.call("POST", "/members", owner, map[string]any{"email": email, "name": "Bench " + role + " " + nonce, "password": pw}, &m); err != nil {
			return 0, "", "", fmt.Errorf("create %s: %w", role, err)
		}
		id, _ := m.ID.Int64()
		tok, _, err := loginToken(a, email, pw, "bench-exact")
		return id, email, tok, err
	}
	granteeID, _, granteeTok, err := newMember("grantee")
	if err != nil {
		return err
	}
	granterID, _, granterTok, err := newMember("granter")
	if err != nil {
		return err
	}
	balance := func(tok string) (int64, int64, error) {
		var b balanceReply
		if _, err := a.get("/balance", nil, tok, &b); err != nil {
			return 0, 0, err
		}
		return b.milli()
	}
	g0, gd0, err := balance(granteeTok)
	if err != nil {
		return err
	}
	r0, rd0, err := balance(granterTok)
	if err != nil {
		return err
	}
	if gd0 != 0 || rd0 != 0 {
		return fmt.Errorf("new members start with debt %s / %s", fmtMilli(gd0), fmtMilli(rd0))
	}
	grant := func(id int64, credits string) error {
		_, _, err := a.call("POST", "/members/"+strconv.FormatInt(id, 10)+"/grants", owner, map[string]any{"kind": "addon", "credits": json.Number(credits), "note": "bench exactness " + nonce}, nil)
		return err
	}
	if err := grant(granteeID, *wallet); err != nil {
		return err
	}
	if err := grant(granterID, *granterGrant); err != nil {
		return err
	}
	var dl delegationReply
	if _, _, err := a.call("POST", "/delegations", granterTok, map[string]any{"granteeId": granteeID, "credits": json.Number(*allowance), "period": "once", "note": "bench exactness"}, &dl); err != nil {
		return fmt.Errorf("create delegation: %w", err)
	}
	delID := dl.ID.String()
	app := d.Apps[0]
	fmt.Printf("exactness: grantee %d (wallet %s + grant %s), granter %d (%s + %s), delegation %s (once, %s); %d reports of %s credits at once (half naming the delegation), then %d keys sent twice at once\n",
		granteeID, fmtMilli(g0), fmtMilli(w), granterID, fmtMilli(r0), fmtMilli(G), delID, fmtMilli(A), *n, fmtMilli(c), *dups)

	type result struct {
		status int
		rep    chargeReply
		err    error
	}
	fire := func(bodies []map[string]any) []result {
		out := make([]result, len(bodies))
		var ready, wg sync.WaitGroup
		startGate := make(chan struct{})
		for i, b := range bodies {
			ready.Add(1)
			wg.Add(1)
			go func(i int, b map[string]any) {
				defer wg.Done()
				ready.Done()
				<-startGate
				st, _, err := a.call("POST", "/usage", app.Key, b, &out[i].rep)
				out[i].status, out[i].err = st, err
			}(i, b)
		}
		ready.Wait()
		close(startGate)
		wg.Wait()
		return out
	}
	body := func(key string, delegated bool) map[string]any {
		b := map[string]any{"aiAgentId": app.Slug, "userId": granteeID, "description": "bench exactness report", "model": "bench-model",
			"credits": json.Number(*charge), "idempotencyKey": key}
		if delegated {
			b["billingSource"] = delID
		}
		return b
	}
	var bodies []map[string]any
	for i := 0; i < *n; i++ {
		bodies = append(bodies, body(fmt.Sprintf("exact-%s-%d", nonce, i), i%2 == 1))
	}
	start := time.Now()
	res := fire(bodies)
	burst := time.Since(start)
	var dupBodies []map[string]any
	for i := 0; i < *dups; i++ {
		b := body(fmt.Sprintf("exact-dup-%s-%d", nonce, i), false)
		dupBodies = append(dupBodies, b, b)
	}
	dres := fire(dupBodies)
	// Replays of keys from the first burst: they must all answer 200 and charge nothing.
	var replays []map[string]any
	for i := 0; i < min(*dups, *n); i++ {
		replays = append(replays, bodies[i])
	}
	rres := fire(replays)

	var ck checks
	var created, errs, status200 int64
	var delegatedN, personalN, sumCharged, sumPersonalParts, sumDelegatedParts, sumDebt, badParts int64
	var firstErr string
	account := func(rs []result) {
		for _, r := range rs {
			switch {
			case r.err != nil:
				errs++
				if firstErr == "" {
					firstErr = r.err.Error()
				}
				continue
			case r.status == 200:
				status200++
				continue
			case r.status == 201:
				created++
			}
			ch, err := parseMilli(r.rep.CreditsCharged.String())
			debt, err2 := parseMilli(r.rep.Debt.String())
			if err != nil || err2 != nil {
				errs++
				firstErr = fmt.Sprint(err, err2)
				continue
			}
			var parts int64
			for _, p := range r.rep.Parts {
				v, err := parseMilli(p.Credits.String())
				if err != nil {
					errs++
					firstErr = err.Error()
				}
				parts += v
				if p.Source == delID {
					sumDelegatedParts += v
				} else {
					sumPersonalParts += v
				}
			}
			if parts+debt != ch {
				badParts++
			}
			sumCharged += ch
			sumDebt += debt
			if r.rep.BillingSource == delID {
				delegatedN++
			} else {
				personalN++
			}
		}
	}
	account(res)
	account(dres)
	account(rres)

	// What the rules allow: every report costs c, and every report tries the allowance first
	// (half name it; the other half reach it as the grantee's only allowance). The one-off
	// allowance pays what it has left, bounded by the granter's credits, and the rest of a report
	// goes to the grantee's wallet (split charges, SPEC 5): so the allowance pays exactly
	// D = min(A, granter's credits, all the charges), and ⌈D/c⌉ reports name it as their first
	// source. The wallet pays the rest until it is empty; the remainder is debt.
	wantCharged := int64(*n+*dups) * c
	wantDelegatedCredits := min(A, r0+G, wantCharged)
	wantDelegated := (wantDelegatedCredits + c - 1) / c
	personalCost := wantCharged - wantDelegatedCredits
	wantPersonalParts := min(personalCost, g0+w)
	wantDebt := personalCost - wantPersonalParts

	fmt.Printf("  burst of %d took %s\n", *n, burst.Round(time.Millisecond))
	ck.eq("replies that are not 2xx (or transport errors)", errs, 0, false)
	ck.eq("201 replies", created, int64(*n+*dups), false)
	ck.eq("200 replies (idempotent replays, charge nothing)", status200, int64(*dups+len(replays)), false)
	ck.eq("replies whose parts + debt != creditsCharged", badParts, 0, false)
	ck.eq("reports billed to the delegation", delegatedN, wantDelegated, false)
	ck.eq("sum of creditsCharged", sumCharged, wantCharged, true)
	ck.eq("sum paid by the granter's buckets (delegated parts)", sumDelegatedParts, wantDelegatedCredits, true)
	ck.eq("sum paid by the grantee's buckets (personal parts)", sumPersonalParts, wantPersonalParts, true)
	ck.eq("sum of debt in the replies", sumDebt, wantDebt, true)

	var dls struct {
		Given []delegationReply `json:"given"`
	}
	if _, err := a.get("/delegations", nil, granterTok, &dls); err != nil {
		return err
	}
	for _, x := range dls.Given {
		if x.ID.String() == delID {
			used, err := parseMilli(x.UsedThisPeriod.String())
			if err != nil {
				return err
			}
			left, err := parseMilli(x.RemainingThisPeriod.String())
			if err != nil {
				return err
			}
			ck.eq("delegation usedThisPeriod", used, wantDelegatedCredits, true)
			ck.eq("delegation remainingThisPeriod", left, A-wantDelegatedCredits, true)
		}
	}
	g1, gd1, err := balance(granteeTok)
	if err != nil {
		return err
	}
	r1, rd1, err := balance(granterTok)
	if err != nil {
		return err
	}
	// GET /balance's total is the buckets' remainders minus the debt.
	ck.eq("grantee balance after (remainders - debt)", g1, g0+w-wantPersonalParts-wantDebt, true)
	ck.eq("grantee debt after", gd1, wantDebt, true)
	ck.eq("granter balance after", r1, r0+G-wantDelegatedCredits, true)
	ck.eq("granter debt after", rd1, 0, true)
	if firstErr != "" {
		fmt.Println("  first error:", firstErr)
	}

	measured := fmt.Sprintf("%d/%d checks exact; %d+%d reports, %d delegated, debt %s", ck.n-len(ck.failed), ck.n, *n, *dups, delegatedN, fmtMilli(sumDebt))
	note := fmt.Sprintf("burst of %d in %s", *n, burst.Round(time.Millisecond))
	if len(ck.failed) > 0 {
		note = strings.Join(ck.failed, "; ")
	}
	return emit(cf.results, Row{Metric: "exactness: 1,000 concurrent reports, 1 wallet + 1 allowance", Target: "0 mc over the rules", Measured: measured,
		Result: passFail(len(ck.failed) == 0), Note: note})
}

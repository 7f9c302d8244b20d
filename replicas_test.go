package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// The replica tests run three `tokenjar serve` processes on one PostgreSQL database, as three
// replicas behind a load balancer would, and spread the load over them. They need
// TOKENJAR_TEST_DATABASE (`make test` starts a throwaway PostgreSQL for them); on SQLite, where
// a second server on one data folder is refused, they are skipped.

type replica struct {
	addr, base string
	data       string
	cmd        *exec.Cmd
}

// startReplicas starts n servers on the database at url at the same time (so the first
// migration is raced too), each with a data folder of its own.
func startReplicas(t *testing.T, bin, url string, n int) []*replica {
	t.Helper()
	rs := make([]*replica, n)
	for i := range rs {
		addr := freeAddr(t)
		rs[i] = &replica{addr: addr, base: "http://" + addr + "/api/v1", data: t.TempDir()}
		rs[i].start(t, bin, url)
	}
	for _, r := range rs {
		r.waitReady(t)
	}
	t.Cleanup(func() {
		for _, r := range rs {
			r.stop()
		}
	})
	return rs
}

func (r *replica) start(t *testing.T, bin, url string) {
	t.Helper()
	r.cmd = exec.Command(bin, "serve", "--addr", r.addr, "--data", r.data, "--database", url, "--no-browser")
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, os.Stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(r.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replica %s did not start", r.addr)
}

func (r *replica) stop() {
	if r.cmd != nil && r.cmd.ProcessState == nil {
		r.cmd.Process.Signal(syscall.SIGTERM)
		r.cmd.Wait()
	}
}

// mustCall makes a call that has to answer want.
func mustCall(t *testing.T, method, url, token string, body any, want int, out any) {
	t.Helper()
	status, b, err := call(http.DefaultClient, method, url, token, body)
	if err != nil || status != want {
		t.Fatalf("%s %s: %d %s %v, want %d", method, url, status, b, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
}

// milli reads a decimal credits amount as millicredits.
func milli(t *testing.T, n json.Number) int64 {
	t.Helper()
	whole, frac, _ := strings.Cut(n.String(), ".")
	frac = (frac + "000")[:3]
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("credits %q", n)
	}
	if strings.HasPrefix(whole, "-") {
		return w*1000 - f
	}
	return w*1000 + f
}

type family struct {
	owner, appKey string
	granteeID     int64
	delegationID  string
}

// setUpFamily makes, through the first replica, an owner, an app, a grantee with a wallet of
// walletCredits and a one-off allowance of allowanceCredits from the owner.
func setUpFamily(t *testing.T, r *replica, walletCredits, allowanceCredits string) family {
	t.Helper()
	var f family
	var setup struct{ Token string }
	mustCall(t, "POST", r.base+"/setup", "", map[string]any{"email": "o@example.org", "name": "Owner", "password": "password123"}, 201, &setup)
	f.owner = setup.Token
	var app struct{ Key string }
	mustCall(t, "POST", r.base+"/apps", f.owner, map[string]any{"name": "Replicas"}, 201, &app)
	f.appKey = app.Key
	var kid struct{ ID int64 }
	mustCall(t, "POST", r.base+"/members", f.owner, map[string]any{"email": "kid@example.org", "name": "Kid", "password": "password123"}, 201, &kid)
	f.granteeID = kid.ID
	mustCall(t, "POST", r.base+"/members/1/grants", f.owner, map[string]any{"kind": "addon", "credits": json.Number("1000")}, 201, nil)
	mustCall(t, "POST", fmt.Sprintf("%s/members/%d/grants", r.base, kid.ID), f.owner, map[string]any{"kind": "addon", "credits": json.Number(walletCredits)}, 201, nil)
	var dl struct{ ID json.Number }
	mustCall(t, "POST", r.base+"/delegations", f.owner, map[string]any{"granteeId": kid.ID, "credits": json.Number(allowanceCredits), "period": "once"}, 201, &dl)
	f.delegationID = dl.ID.String()
	return f
}

type chargeResult struct {
	status         int
	err            error
	ID             int64       `json:"id"`
	CreditsCharged json.Number `json:"creditsCharged"`
	Debt           json.Number `json:"debt"`
	BillingSource  string      `json:"billingSource"`
}

// TestThreeReplicasStayExact sends 600 concurrent reports spread over three replicas against a
// 10-credit wallet and a 5-credit allowance, and 20 idempotency keys each to all three at once.
// It proves that the replicas decide from one source of truth: every key makes one event, the
// allowance pays exactly what it had, the wallet exactly what it had, the rest is debt, and
// `tokenjar check` finds the ledger whole. It does not prove anything about a network between
// replicas and database (all on loopback here).
func TestThreeReplicasStayExact(t *testing.T) {
	url := replicaDatabase(t)
	bin := buildBinary(t)
	rs := startReplicas(t, bin, url, 3)
	f := setUpFamily(t, rs[0], "10", "5")

	const n, dupKeys = 600, 20
	const charge = int64(37) // millicredits a report: 600 × 0.037 = 22.2 credits, more than 10 + 5
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	report := func(r *replica, key string, delegated bool) chargeResult {
		body := map[string]any{"aiAgentId": "replicas", "userId": f.granteeID, "description": "replica test", "model": "m",
			"credits": json.Number("0.037"), "idempotencyKey": key}
		if delegated {
			body["billingSource"] = f.delegationID
		}
		status, b, err := call(client, "POST", r.base+"/usage", f.appKey, body)
		res := chargeResult{status: status, err: err}
		if err == nil && status < 300 {
			json.Unmarshal(b, &res)
		} else if err == nil {
			res.err = fmt.Errorf("%d %s", status, b)
		}
		return res
	}
	type job struct {
		r         *replica
		key       string
		delegated bool
	}
	var jobs []job
	for i := 0; i < n; i++ {
		jobs = append(jobs, job{rs[i%3], fmt.Sprintf("burst-%d", i), i%2 == 1})
	}
	for k := 0; k < dupKeys; k++ {
		for _, r := range rs { // each key to all three replicas at once
			jobs = append(jobs, job{r, fmt.Sprintf("dup-%d", k), false})
		}
	}
	results := make([]chargeResult, len(jobs))
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			results[i] = report(j.r, j.key, j.delegated)
		}()
	}
	close(gate)
	wg.Wait()

	created, replayed := 0, 0
	eventOfKey := map[string]int64{}
	var charged, debt int64
	for i, res := range results {
		if res.err != nil {
			t.Fatalf("report %s: %v", jobs[i].key, res.err)
		}
		if prev, ok := eventOfKey[jobs[i].key]; ok && prev != res.ID {
			t.Fatalf("key %s made events %d and %d", jobs[i].key, prev, res.ID)
		}
		eventOfKey[jobs[i].key] = res.ID
		switch res.status {
		case 201:
			created++
			charged += milli(t, res.CreditsCharged)
			debt += milli(t, res.Debt)
		case 200:
			replayed++
		}
	}
	if created != n+dupKeys || replayed != 2*dupKeys {
		t.Fatalf("%d created, %d replayed; want %d and %d (one event per key)", created, replayed, n+dupKeys, 2*dupKeys)
	}
	total := int64(n+dupKeys) * charge
	if charged != total {
		t.Fatalf("charged %d mc in all, want %d", charged, total)
	}
	// The allowance pays its 5 credits, the wallet its 10, and the rest is the grantee's debt.
	if want := total - 5_000 - 10_000; debt != want {
		t.Fatalf("debt %d mc, want %d: a replica decided from a stale balance", debt, want)
	}
	var dls struct {
		Given []struct {
			ID                  json.Number
			UsedThisPeriod      json.Number
			RemainingThisPeriod json.Number
		}
	}
	mustCall(t, "GET", rs[1].base+"/delegations", f.owner, nil, 200, &dls)
	for _, d := range dls.Given {
		if d.ID.String() == f.delegationID {
			if used := milli(t, d.UsedThisPeriod); used != 5_000 {
				t.Fatalf("the allowance paid %d mc, want exactly 5000", used)
			}
		}
	}
	var events int64
	d, err := db.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Read().QueryRowForTest(context.Background(), `SELECT count(*) FROM usage_events`, &events)
	if events != int64(n+dupKeys) {
		t.Fatalf("%d events stored, want %d", events, n+dupKeys)
	}
	runCheck(t, bin, url)
}

// TestARevokedTokenIsRefusedByEveryReplica revokes a personal token through one replica and
// expects the two others to refuse it within a second (they cache tokens; PostgreSQL's
// LISTEN/NOTIFY tells them).
func TestARevokedTokenIsRefusedByEveryReplica(t *testing.T) {
	url := replicaDatabase(t)
	rs := startReplicas(t, buildBinary(t), url, 3)
	f := setUpFamily(t, rs[0], "10", "5")
	var tok struct {
		ID    int64
		Token string
	}
	mustCall(t, "POST", rs[0].base+"/tokens", f.owner, map[string]any{"name": "script"}, 201, &tok)
	for _, r := range rs { // every replica has now seen (and cached) the token
		mustCall(t, "GET", r.base+"/balance", tok.Token, nil, 200, nil)
	}
	mustCall(t, "DELETE", fmt.Sprintf("%s/tokens/%d", rs[0].base, tok.ID), f.owner, nil, 200, nil)
	revoked := time.Now()
	for _, r := range rs[1:] {
		for {
			status, _, err := call(http.DefaultClient, "GET", r.base+"/balance", tok.Token, nil)
			if err == nil && status == 401 {
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("replica %s still takes the revoked token %s after revoking (last answer %d %v)", r.addr, time.Since(revoked), status, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("both other replicas refused the token %s after it was revoked", time.Since(revoked).Round(time.Millisecond))
}

// TestKillingAReplicaLosesNoAcknowledgedReport kills one of three replicas with SIGKILL in the
// middle of a burst spread over all three; every report any replica answered 201 is stored, and
// the ledger is whole. Like crash_test.go, it proves process-crash safety (here: a replica's),
// not power-loss safety of the database server.
func TestKillingAReplicaLosesNoAcknowledgedReport(t *testing.T) {
	url := replicaDatabase(t)
	bin := buildBinary(t)
	rs := startReplicas(t, bin, url, 3)
	f := setUpFamily(t, rs[0], "100", "5")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	acked := map[int64]bool{}
	var ackedN atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 24; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rs[w%3]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, b, err := call(client, "POST", r.base+"/usage", f.appKey, map[string]any{"aiAgentId": "replicas",
					"userId": f.granteeID, "description": "kill test", "credits": json.Number("0.01"), "idempotencyKey": fmt.Sprintf("k%d-%d", w, i)})
				if err != nil {
					if r == rs[2] {
						return // the killed replica
					}
					continue
				}
				if status == 201 {
					var res struct{ ID int64 }
					json.Unmarshal(b, &res)
					mu.Lock()
					acked[res.ID] = true
					mu.Unlock()
					ackedN.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for ackedN.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	rs[2].cmd.Process.Signal(syscall.SIGKILL)
	rs[2].cmd.Wait()
	time.Sleep(200 * time.Millisecond) // the two others go on meanwhile
	close(stop)
	wg.Wait()
	if ackedN.Load() < 300 {
		t.Fatalf("only %d reports acknowledged in 60 s", ackedN.Load())
	}
	d, err := db.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	missing := 0
	for id := range acked {
		var n int64
		d.Read().QueryRowForTest(context.Background(), `SELECT count(*) FROM usage_events WHERE id = `+strconv.FormatInt(id, 10), &n)
		if n != 1 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged reports are not stored", missing, len(acked))
	}
	t.Logf("%d acknowledged reports, all stored, after one of three replicas was killed", len(acked))
	runCheck(t, bin, url)
}

// TestTheRefreshRunsOnceWithThreeReplicas runs the monthly refresh for the next cycle from three
// processes at once: each member gets their monthly credits once.
func TestTheRefreshRunsOnceWithThreeReplicas(t *testing.T) {
	url := replicaDatabase(t)
	bin := buildBinary(t)
	rs := startReplicas(t, bin, url, 3)
	f := setUpFamily(t, rs[0], "10", "5")
	mustCall(t, "PUT", fmt.Sprintf("%s/members/%d/plan", rs[0].base, f.granteeID), f.owner, map[string]any{"monthlyCredits": json.Number("7")}, 200, nil)
	next := time.Now().UTC().AddDate(0, 1, 0)
	at := time.Date(next.Year(), next.Month(), 1, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)
	var wg sync.WaitGroup
	outs := make([]string, 3)
	for i := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bin, "jobs", "run", "refresh", "--at", at, "--database", url, "--data", t.TempDir())
			b, err := cmd.CombinedOutput()
			outs[i] = fmt.Sprintf("%s %v", b, err)
		}()
	}
	wg.Wait()
	d, err := db.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var grants int64
	d.Read().QueryRowForTest(context.Background(), fmt.Sprintf(`SELECT count(*) FROM buckets WHERE user_id = %d AND kind = 'subscription' AND granted = 7000`, f.granteeID), &grants)
	if grants != 1 {
		t.Fatalf("the grantee got %d monthly grants of 7 credits for the next cycle, want 1; the three runs said:\n%s", grants, strings.Join(outs, "\n"))
	}
	runCheck(t, bin, url)
}

// replicaDatabase is a fresh PostgreSQL database for a replica test, which it skips on SQLite.
func replicaDatabase(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts three servers")
	}
	if dbtest.Engine() != db.Postgres {
		t.Skip("replicas need PostgreSQL (set " + dbtest.EnvVar + "; `make test` does)")
	}
	return dbtest.EmptyTarget(t) // the replicas' first start migrates it, all three at once
}

// runCheck runs `tokenjar check` on the database, as an operator would.
func runCheck(t *testing.T, bin, url string) {
	t.Helper()
	out, err := exec.Command(bin, "check", "--database", url, "--data", t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("tokenjar check: %v\n%s", err, out)
	}
}

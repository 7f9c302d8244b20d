package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tokenjar/db"
)

var built struct {
	once sync.Once
	bin  string
	err  error
}

// buildBinary builds tokenjar once for all the tests of this run.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "tokenjar-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "tokenjar")
		cmd := exec.Command("go", "build", "-o", built.bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t *testing.T, bin, addr, data string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", data, "--no-browser")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A deadline, not a count of tries: on a busy machine a start can take several seconds.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if resp, err := http.Get("http://" + addr + "/api/v1/healthz"); err == nil {
			resp.Body.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatal("server did not start")
	return nil
}

func call(client *http.Client, method, url, token string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// TestKillDuringBurstLosesNothingAcknowledged kills the server with SIGKILL in the middle of a
// burst of reports, restarts it, and checks that every report answered 201 is on disk and the
// ledger invariant holds.
//
// It proves process-crash safety only: a killed process's writes stay in the kernel's page
// cache, so this test still passes with the fsync removed. TestAReportIsFsyncedBeforeIts201
// (fsync_test.go) shows the fsync comes before the 201; neither cuts the power.
func TestKillDuringBurstLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr + "/api/v1"
	srv := startServer(t, bin, addr, data)

	var setup struct{ Token string }
	status, b, err := call(http.DefaultClient, "POST", base+"/setup", "", map[string]any{"email": "o@example.org", "name": "O", "password": "password123"})
	if err != nil || status != 201 || json.Unmarshal(b, &setup) != nil {
		t.Fatalf("setup: %d %s %v", status, b, err)
	}
	if status, b, _ := call(http.DefaultClient, "POST", base+"/members/1/grants", setup.Token, map[string]any{"kind": "addon", "credits": 100}); status != 201 {
		t.Fatalf("grant: %d %s", status, b)
	}
	var app struct{ Key string }
	_, b, _ = call(http.DefaultClient, "POST", base+"/apps", setup.Token, map[string]any{"name": "Burst"})
	json.Unmarshal(b, &app)

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	acked := map[string]int64{} // idempotency key → event id answered 201
	var sent, ackedN atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i)
				sent.Add(1)
				status, b, err := call(client, "POST", base+"/usage", app.Key, map[string]any{
					"aiAgentId": "burst", "userId": 1, "description": "burst", "credits": 0.7, "idempotencyKey": key})
				if err != nil {
					return // the server is gone
				}
				if status == 201 {
					var r struct{ ID int64 }
					json.Unmarshal(b, &r)
					mu.Lock()
					acked[key] = r.ID
					mu.Unlock()
					ackedN.Add(1)
				}
			}
		}(w)
	}
	for ackedN.Load() < 400 {
		time.Sleep(5 * time.Millisecond)
	}
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	close(stop)
	wg.Wait()
	t.Logf("sent %d reports, %d acknowledged before SIGKILL", sent.Load(), ackedN.Load())

	srv = startServer(t, bin, addr, data)
	for key, id := range acked {
		status, b, err := call(client, "GET", fmt.Sprintf("%s/usage/%d", base, id), setup.Token, nil)
		if err != nil || status != 200 {
			t.Fatalf("acknowledged event %d (%s) missing after restart: %d %s %v", id, key, status, b, err)
		}
		// A retry of an acknowledged report is a replay, never a second charge.
		status, b, _ = call(client, "POST", base+"/usage", app.Key, map[string]any{
			"aiAgentId": "burst", "userId": 1, "description": "burst", "credits": 0.7, "idempotencyKey": key})
		if status != 200 {
			t.Fatalf("retry of %s: %d %s", key, status, b)
		}
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()

	d, err := db.Open(filepath.Join(data, "tokenjar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	bad, err := d.Read().CheckLedger(context.Background())
	if err != nil || len(bad) > 0 {
		t.Fatalf("ledger invariant after crash: %v %v", bad, err)
	}
	var events int64
	d.Read().QueryRowForTest(context.Background(), `SELECT count(*) FROM usage_events`, &events)
	if events < int64(len(acked)) {
		t.Fatalf("%d events on disk, %d acknowledged", events, len(acked))
	}
	t.Logf("%d events on disk after restart (%d acknowledged, the rest committed but unanswered)", events, len(acked))
}

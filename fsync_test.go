package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAReportIsFsyncedBeforeIts201 runs the server under strace and follows one report through
// its system calls: the request is read from the socket, its commit is written to the
// write-ahead log, the log is fsynced, and only then is "HTTP/1.1 201" written to the socket.
//
// The SIGKILL test (crash_test.go) cannot show this: a killed process's writes stay in the
// kernel's page cache, so that test still passes with the fsync removed. It proves
// process-crash safety only. This test proves the order that makes a 201 survive a power cut,
// as far as the disk honours fsync; it does not cut the power.
func TestAReportIsFsyncedBeforeIts201(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and traces it")
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("strace is missing (make test-go installs it with scripts/ensure-package.sh)")
		}
		t.Skip("strace is not installed (make test-go installs it with scripts/ensure-package.sh)")
	}
	bin := buildBinary(t)
	data, addr := t.TempDir(), freeAddr(t)
	base := "http://" + addr + "/api/v1"
	trace := filepath.Join(t.TempDir(), "trace.txt")
	srv := exec.Command(strace, "-f", "-yy", "-s", "160", "-o", trace,
		"-e", "trace=read,write,pwrite64,fsync,fdatasync",
		bin, "serve", "--addr", addr, "--data", data, "--no-browser")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// SIGTERM to strace would only detach it: the server itself is signalled.
	stopServer := func() {
		if pid := tracedChild(srv.Process.Pid); pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
		}
		srv.Wait()
	}
	defer func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
			srv.Wait()
		}
	}()
	waitHealthy(t, addr, 30*time.Second) // strace slows the start

	client := &http.Client{Timeout: 30 * time.Second}
	var setup struct{ Token string }
	status, b, err := call(client, "POST", base+"/setup", "", map[string]any{"email": "o@example.org", "name": "O", "password": "password123"})
	if err != nil || status != 201 || json.Unmarshal(b, &setup) != nil {
		t.Fatalf("setup: %d %s %v", status, b, err)
	}
	var app struct{ Key string }
	if status, b, err = call(client, "POST", base+"/apps", setup.Token, map[string]any{"name": "Trace"}); status != 201 || json.Unmarshal(b, &app) != nil {
		t.Fatalf("app: %d %s %v", status, b, err)
	}
	const key = "fsync-proof-7f3a"
	status, b, err = call(client, "POST", base+"/usage", app.Key, map[string]any{
		"aiAgentId": "trace", "userId": 1, "description": "traced", "credits": 0, "idempotencyKey": key})
	if err != nil || status != 201 {
		t.Fatalf("report: %d %s %v", status, b, err)
	}
	stopServer()

	steps := reportSyscalls(t, trace, key)
	t.Logf("the report's system calls, in order: %s", strings.Join(steps, " → "))
	// The report's commit is the last write of the log before the 201 (the key's "last used"
	// stamp may commit before it): an fsync of the log must come after it.
	lastWrite, synced := -1, false
	for i, s := range steps {
		switch s {
		case "log written":
			lastWrite, synced = i, false
		case "log fsynced":
			synced = lastWrite >= 0
		}
	}
	if lastWrite < 0 || !synced {
		t.Fatalf("the report's 201 went out before its commit was fsynced: %v", steps)
	}
}

// reportSyscalls reads an strace log and names, in the order they completed, the steps that
// matter from the read of the request carrying key to the write of its 201.
func reportSyscalls(t *testing.T, trace, key string) []string {
	t.Helper()
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A call interrupted by another thread's is logged twice: "<unfinished ...>" when it starts
	// and "<... resumed>" when it ends. A sync counts when it has ended; a write of the answer
	// counts from when it starts.
	syncEnd := regexp.MustCompile(`^\d+\s+(fsync|fdatasync)\(\d+<[^>]*-wal>\)\s+= 0|^\d+\s+<\.\.\. (fsync|fdatasync) resumed>.*= 0`)
	syncStart := regexp.MustCompile(`^(\d+)\s+(fsync|fdatasync)\(\d+<[^>]*-wal>\s*<unfinished`)
	walWrite := regexp.MustCompile(`^\d+\s+pwrite64\(\d+<[^>]*-wal>`)
	var steps []string
	started := map[string]bool{} // pids whose unfinished call is a sync of the log
	seenRequest := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !seenRequest:
			// A read interrupted by another thread's call prints its data on the "resumed" line,
			// without the socket's name.
			isRead := strings.Contains(line, "read(") && strings.Contains(line, "TCP") || strings.Contains(line, "<... read resumed>")
			if isRead && strings.Contains(line, "POST /api/v1/usage") {
				seenRequest = true
				steps = append(steps, "request read")
			}
		case strings.Contains(line, "write(") && strings.Contains(line, "TCP") && strings.Contains(line, "HTTP/1.1 201"):
			return append(steps, "201 written")
		case walWrite.MatchString(line):
			if len(steps) == 0 || steps[len(steps)-1] != "log written" {
				steps = append(steps, "log written")
			}
		case syncStart.MatchString(line):
			started[syncStart.FindStringSubmatch(line)[1]] = true
		case syncEnd.MatchString(line):
			pid := strings.Fields(line)[0]
			if strings.Contains(line, "resumed>") && !started[pid] {
				continue // the end of a sync of another file
			}
			delete(started, pid)
			steps = append(steps, "log fsynced")
		}
	}
	if !seenRequest {
		t.Fatalf("the trace has no read of the report's request (key %s)", key)
	}
	t.Fatal("the trace has no 201 written after the report's request")
	return nil
}

// tracedChild returns the pid of strace's child (the server), or 0.
func tracedChild(stracePid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", stracePid, stracePid))
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	return pid
}

func waitHealthy(t *testing.T, addr string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/api/v1/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(fmt.Sprintf("the server did not answer within %s", limit))
}

package main

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second server on the same data folder exits non-zero and names the process that serves it
// (before, both accepted writes, each with its own caches, and both ran the jobs). Once the
// first one stops, the folder can be served again. What it does not cover: two machines
// sharing a folder over a network file system, where advisory locks may not reach.
func TestASecondServerOnTheSameFolderRefusesToStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, data := buildBinary(t), t.TempDir()
	first := startServer(t, bin, freeAddr(t), data)
	second := exec.Command(bin, "serve", "--addr", freeAddr(t), "--data", data, "--no-browser")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = second.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		second.Process.Kill()
		t.Fatal("the second server did not exit")
	}
	if err == nil {
		t.Fatalf("the second server exited 0: %s", out)
	}
	if !strings.Contains(string(out), "process "+strconv.Itoa(first.Process.Pid)) {
		t.Fatalf("the second server's error does not name the first one (pid %d): %s", first.Process.Pid, out)
	}
	first.Process.Signal(syscall.SIGTERM)
	first.Wait()
	again := startServer(t, bin, freeAddr(t), data)
	again.Process.Signal(syscall.SIGTERM)
	again.Wait()
}

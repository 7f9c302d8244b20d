package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGatewayKeyFileIsCreatedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateGatewayKey(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, GatewayKeyFileName)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st.Mode(), err)
	}
	first, _ := os.ReadFile(path)
	if _, err := LoadOrCreateGatewayKey(dir); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if string(first) != string(again) || len(strings.TrimSpace(string(first))) != 64 {
		t.Error("the key file changed on the second start")
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateGatewayKey(dir); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("a key file readable by others was left %v", st.Mode())
	}
	os.WriteFile(path, []byte("short\n"), 0o600)
	if _, err := LoadOrCreateGatewayKey(dir); err == nil {
		t.Error("a damaged key file was accepted (or replaced)")
	}
	if b, _ := os.ReadFile(path); string(b) != "short\n" {
		t.Error("a damaged key file was overwritten")
	}
}

package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tokenjar/db"
	"tokenjar/db/dbtest"
	"tokenjar/server/core"
)

// openReplica opens the database target again with a service of its own, as another
// `tokenjar serve` does.
func openReplica(t *testing.T, target string) *core.Service {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err := core.New(ctx, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

// Two replicas of one PostgreSQL database, each with an empty data folder of its own, starting
// together, get the same provider-key secret: a key saved through one opens through the other,
// and neither writes the secret to its data folder. What it does not cover: TOKENJAR_SECRET_KEY
// (TestProviderKeySecretFromTheEnvironment).
func TestProviderKeySecretIsSharedByReplicas(t *testing.T) {
	target := dbtest.Target(t)
	a, b := openReplica(t, target), openReplica(t, target)
	if !a.Replicated() {
		t.Skip("PostgreSQL only: on SQLite one server owns the database and the key file in its data folder")
	}
	ctx := context.Background()
	svcs, dirs := []*core.Service{a, b}, []string{t.TempDir(), t.TempDir()}
	boxes := make([]*core.KeyBox, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			box, err := LoadGatewayKey(ctx, svcs[i], dirs[i], "")
			if err != nil {
				t.Error(err)
			}
			boxes[i] = box
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, GatewayKeyFileName)); err == nil {
			t.Errorf("%s has a key file: the secret must not live in one replica's data folder", dir)
		}
	}
	res, err := a.Setup(ctx, core.NewMember{Email: "owner@example.org", Name: "Owner", Password: "password123"}, core.SettingsUpdate{})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := a.AuthenticateBearer(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	name, kind, key := "OpenAI", "openai", "sk-proj-SHARED-42"
	if _, err := a.CreateAIProvider(ctx, owner, core.AIProviderInput{Name: &name, Kind: &kind, APIKey: &key, Models: &[]string{"gpt-4o"}}, boxes[0]); err != nil {
		t.Fatal(err)
	}
	cfgs, err := b.AIProviderConfigs(ctx, boxes[1])
	if err != nil || len(cfgs) != 1 || cfgs[0].APIKey != key {
		t.Fatalf("the key sealed through replica A, opened through replica B: %d configs, %v", len(cfgs), err)
	}
}

// TOKENJAR_SECRET_KEY gives the secret on either engine, and is refused when it differs from
// the secret already in use (the data folder's file on SQLite, the database's on PostgreSQL),
// whose stored provider keys it could not open. On PostgreSQL, the first start without it
// takes the data folder's file into the database, so an instance moved over from SQLite keeps
// its keys.
func TestProviderKeySecretFromTheEnvironment(t *testing.T) {
	ctx := context.Background()
	env := strings.Repeat("ab", 32)
	svc := openReplica(t, dbtest.Target(t))
	if _, err := LoadGatewayKey(ctx, svc, t.TempDir(), env); err != nil {
		t.Fatalf("a fresh instance with %s: %v", GatewayKeyEnv, err)
	}
	if _, err := LoadGatewayKey(ctx, svc, t.TempDir(), "abc"); err == nil {
		t.Error("a secret of 3 hex digits was accepted")
	}

	// The secret already in use: a file on SQLite, or one from the data folder's file stored in
	// the database on PostgreSQL.
	dir := t.TempDir()
	file := strings.Repeat("cd", 32)
	if err := os.WriteFile(filepath.Join(dir, GatewayKeyFileName), []byte(file+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc = openReplica(t, dbtest.Target(t))
	if _, err := LoadGatewayKey(ctx, svc, dir, ""); err != nil {
		t.Fatal(err)
	}
	if svc.Replicated() {
		stored, ok, err := svc.StoredSecret(ctx, gatewaySecretName)
		if err != nil || !ok || stored != file {
			t.Fatalf("stored secret %q %v %v; want the data folder's file", stored, ok, err)
		}
		os.Remove(filepath.Join(dir, GatewayKeyFileName)) // the database's copy is what counts now
	}
	if _, err := LoadGatewayKey(ctx, svc, dir, env); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatalf("%s differing from the secret in use: %v", GatewayKeyEnv, err)
	}
	if _, err := LoadGatewayKey(ctx, svc, dir, strings.ToUpper(file)); err != nil {
		t.Fatalf("%s equal to the secret in use: %v", GatewayKeyEnv, err)
	}
}

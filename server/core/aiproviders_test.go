package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testKeyBox(t *testing.T, fill byte) *KeyBox {
	t.Helper()
	b, err := NewKeyBox(bytes.Repeat([]byte{fill}, KeyBoxKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeyBoxSealsAndRefusesTampering(t *testing.T) {
	if _, err := NewKeyBox(make([]byte, 16)); err == nil {
		t.Error("a 16-byte secret was accepted")
	}
	box := testKeyBox(t, 1)
	a, _ := box.seal("sk-secret")
	b, _ := box.seal("sk-secret")
	if bytes.Equal(a, b) || bytes.Contains(a, []byte("sk-secret")) {
		t.Error("sealing is not randomised or leaks the key")
	}
	if got, err := box.open(a); err != nil || got != "sk-secret" {
		t.Errorf("open: %q %v", got, err)
	}
	a[len(a)-1] ^= 1
	if _, err := box.open(a); err == nil {
		t.Error("a tampered blob opened")
	}
	if _, err := testKeyBox(t, 2).open(b); err == nil {
		t.Error("another key file opened the blob")
	}
	if s := fmt.Sprintf("%v %+v %#v", box, box, box); strings.Contains(s, "aead") || !strings.Contains(s, "redacted") {
		t.Errorf("printing a KeyBox shows %s", s)
	}
}

func TestAIProvidersKeepKeysSealed(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	box := testKeyBox(t, 7)
	const secret = "sk-proj-VERYSECRET-123"
	info, err := h.svc.CreateAIProvider(h.ctx, h.owner, AIProviderInput{Name: gwPtr("OpenAI"), Kind: gwPtr("openai"), APIKey: gwPtr(secret),
		Models: &[]string{"gpt-4o", " gpt-4o ", "gpt-4o-mini"}}, box)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(info)
	if !info.HasKey || info.BaseURL != "https://api.openai.com/v1" || len(info.Models) != 2 || !info.IncludeUsage || info.TimeoutMS != 60000 ||
		strings.Contains(string(js), "VERYSECRET") {
		t.Errorf("created: %s", js)
	}
	var stored []byte
	if err := h.db.Read().QueryRowForTest(h.ctx, `SELECT api_key_enc FROM providers`, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || bytes.Contains(stored, []byte("VERYSECRET")) {
		t.Error("the key is not sealed at rest")
	}
	var audit string
	_ = h.db.Read().QueryRowForTest(h.ctx, `SELECT string_agg(detail || target, '|') FROM audit_log`, &audit)
	if strings.Contains(audit, "VERYSECRET") {
		t.Error("the audit log holds the key")
	}
	cfgs, err := h.svc.AIProviderConfigs(h.ctx, box)
	if err != nil || len(cfgs) != 1 || cfgs[0].APIKey != secret || cfgs[0].Timeout != time.Minute {
		t.Fatalf("configs: %v %v", cfgs, err)
	}
	if s := fmt.Sprintf("%v %+v %#v", cfgs[0], cfgs[0], cfgs); strings.Contains(s, "VERYSECRET") {
		t.Errorf("printing a config shows the key: %s", s)
	}
	if _, err := h.svc.AIProviderConfigs(h.ctx, testKeyBox(t, 8)); err == nil {
		t.Error("another key file opened the stored key")
	}
	list, _ := h.svc.ListAIProviders(h.ctx, h.owner)
	if js, _ := json.Marshal(list); len(list) != 1 || strings.Contains(string(js), "VERYSECRET") {
		t.Errorf("list: %s", js)
	}
}

func TestAIProviderChangesAndChecks(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	box := testKeyBox(t, 7)
	info, err := h.svc.CreateAIProvider(h.ctx, h.owner, AIProviderInput{Name: gwPtr("Ollama"), Kind: gwPtr("openai-compatible"),
		BaseURL: gwPtr("http://localhost:11434/v1/"), Free: gwPtr(true), IncludeUsage: gwPtr(false)}, box)
	if err != nil || info.HasKey || !info.Free || info.IncludeUsage || info.BaseURL != "http://localhost:11434/v1" {
		t.Fatalf("%+v %v", info, err)
	}
	up, err := h.svc.UpdateAIProvider(h.ctx, h.owner, info.ID, AIProviderInput{APIKey: gwPtr("k1"), TimeoutMS: gwPtr(int64(5000))}, box)
	if err != nil || !up.HasKey || up.TimeoutMS != 5000 || !up.Free || up.Name != "Ollama" {
		t.Fatalf("update: %+v %v", up, err)
	}
	if up, _ = h.svc.UpdateAIProvider(h.ctx, h.owner, info.ID, AIProviderInput{APIKey: gwPtr("")}, box); up.HasKey {
		t.Error("an empty key did not remove the key")
	}
	bad := []struct {
		in   AIProviderInput
		code string
	}{
		{AIProviderInput{Name: gwPtr("x"), Kind: gwPtr("gemini")}, EINVALID},
		{AIProviderInput{Name: gwPtr("x"), Kind: gwPtr("openai-compatible")}, EINVALID}, // no base URL
		{AIProviderInput{Name: gwPtr("x"), Kind: gwPtr("openai"), BaseURL: gwPtr("ftp://x")}, EINVALID},
		{AIProviderInput{Name: gwPtr("x"), Kind: gwPtr("openai"), BaseURL: gwPtr("https://user:pw@x/v1")}, EINVALID},
		{AIProviderInput{Name: gwPtr("x"), Kind: gwPtr("openai"), TimeoutMS: gwPtr(int64(0))}, EINVALID},
		{AIProviderInput{Name: gwPtr(""), Kind: gwPtr("openai")}, EINVALID},
		{AIProviderInput{Name: gwPtr("x"), Kind: gwPtr("openai"), Models: &[]string{""}}, EINVALID},
		{AIProviderInput{Name: gwPtr("OLLAMA"), Kind: gwPtr("openai")}, ECONFLICT},
	}
	for i, c := range bad {
		if _, err := h.svc.CreateAIProvider(h.ctx, h.owner, c.in, box); ErrorCode(err) != c.code {
			t.Errorf("case %d: %v, want %s", i, err, c.code)
		}
	}
	member := Principal{UserID: h.member("kid"), Role: RoleMember}
	if _, err := h.svc.CreateAIProvider(h.ctx, member, AIProviderInput{Name: gwPtr("y"), Kind: gwPtr("openai")}, box); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("a member made a provider: %v", err)
	}
	if _, err := h.svc.ListAIProviders(h.ctx, member); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("a member listed providers: %v", err)
	}
	if err := h.svc.DeleteAIProvider(h.ctx, h.owner, info.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.DeleteAIProvider(h.ctx, h.owner, info.ID); ErrorCode(err) != ENOTFOUND {
		t.Errorf("second delete: %v", err)
	}
}

func TestPriceOverridesPriceTheGateway(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	v, err := h.svc.SetPrice(h.ctx, h.owner, "GPT-4o", PriceInput{Input: "3", Output: "12.5", CachedInput: gwPtr("0.75"), CacheWrite1h: gwPtr("6")})
	if err != nil || v.From != PriceFromOverride || v.Default == nil || v.Default.Input != 2_500_000 {
		t.Fatalf("%+v %v", v, err)
	}
	js, _ := json.Marshal(v)
	for _, want := range []string{`"input":3`, `"output":12.5`, `"cachedInput":0.75`, `"cacheWrite":null`, `"cacheWrite1h":6`, `"from":"override"`, `"default":{"model":"gpt-4o"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("%s lacks %s", js, want)
		}
	}
	for _, in := range []PriceInput{{Input: "-1", Output: "1"}, {Input: "1", Output: "0.0000001"}, {Input: "1", Output: "x"}, {Input: "1", Output: "1", PerImage: gwPtr("")}} {
		if _, err := h.svc.SetPrice(h.ctx, h.owner, "m", in); ErrorCode(err) != EINVALID {
			t.Errorf("%+v: %v", in, err)
		}
	}
	if _, err := h.svc.SetPrice(h.ctx, h.owner, "my-local-model", PriceInput{Input: "0", Output: "0"}); err != nil {
		t.Fatal(err)
	}
	book, err := h.svc.PriceBook(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, src, ok := book.Lookup("gpt-4o-2024-08-06")
	// 1000 × 3e6 + 100 × 12.5e6 = 4.25e9 pico
	if c, _ := p.Credits(ModelUsage{InputTokens: 1000, OutputTokens: 100}, perUSD); !ok || src != PriceFromOverride || c != 4250 {
		t.Errorf("override not applied: %s %d", src, c)
	}
	all, _ := h.svc.Prices(h.ctx, h.owner)
	if len(all) != len(ShippedPrices())+1 {
		t.Errorf("%d prices listed", len(all))
	}
	if err := h.svc.DeletePrice(h.ctx, h.owner, "gpt-4o"); err != nil {
		t.Fatal(err)
	}
	book, _ = h.svc.PriceBook(h.ctx)
	if _, src, _ := book.Lookup("gpt-4o"); src != PriceFromTable {
		t.Errorf("after reset: %s", src)
	}
	if err := h.svc.DeletePrice(h.ctx, h.owner, "gpt-4o"); ErrorCode(err) != ENOTFOUND {
		t.Errorf("second reset: %v", err)
	}
	member := Principal{UserID: h.member("kid"), Role: RoleMember}
	if _, err := h.svc.SetPrice(h.ctx, member, "gpt-4o", PriceInput{Input: "0", Output: "0"}); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("a member set a price: %v", err)
	}
}

func gwPtr[T any](v T) *T { return &v }

// The gateway's cached providers and prices follow every admin change at once (the cache is
// cleared after each change commits), not after the cache's TTL. Not covered: changes made by
// another process, which the TTL bounds.
func TestGatewayConfigFollowsAdminChanges(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	box := testKeyBox(t, 7)
	names := func() []string {
		cfgs, err := h.svc.AIProviderConfigs(h.ctx, box)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cfgs {
			out = append(out, c.Name+"@"+c.BaseURL)
		}
		return out
	}
	if got := names(); len(got) != 0 {
		t.Fatalf("providers before any: %v", got)
	}
	info, err := h.svc.CreateAIProvider(h.ctx, h.owner, AIProviderInput{Name: gwPtr("Local"), Kind: gwPtr("openai-compatible"), BaseURL: gwPtr("http://127.0.0.1:11434/v1")}, box)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 1 || got[0] != "Local@http://127.0.0.1:11434/v1" {
		t.Fatalf("after create: %v", got)
	}
	if _, err := h.svc.UpdateAIProvider(h.ctx, h.owner, info.ID, AIProviderInput{BaseURL: gwPtr("http://127.0.0.1:8000/v1")}, box); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 1 || got[0] != "Local@http://127.0.0.1:8000/v1" {
		t.Fatalf("after update: %v", got)
	}
	if err := h.svc.DeleteAIProvider(h.ctx, h.owner, info.ID); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}
	book, _ := h.svc.PriceBook(h.ctx)
	if _, src, _ := book.Lookup("gpt-4o"); src != PriceFromTable {
		t.Fatalf("before the override: %s", src)
	}
	if _, err := h.svc.SetPrice(h.ctx, h.owner, "gpt-4o", PriceInput{Input: "1", Output: "2"}); err != nil {
		t.Fatal(err)
	}
	book, _ = h.svc.PriceBook(h.ctx)
	if _, src, _ := book.Lookup("gpt-4o"); src != PriceFromOverride {
		t.Fatalf("after the override: %s", src)
	}
}

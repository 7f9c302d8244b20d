package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tokenjar/server/core"
)

const fakeProviderKey = "sk-test-SECRET-0123456789abcdef"

// fakeModelsServer is an OpenAI-compatible provider that lists models for the right key and answers
// 401 (echoing the key, as some providers do) for any other.
func fakeModelsServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" {
			http.NotFound(w, r)
			return
		}
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if got != fakeProviderKey {
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"message": "Incorrect API key provided: " + got + ".", "type": "invalid_request_error"}})
			return
		}
		w.Write([]byte(`{"object":"list","data":[{"id":"gpt-4o-mini"},{"id":"my-local-llm"},{"id":"gpt-4o"}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newProviderTestServer(t *testing.T) *testServer {
	t.Helper()
	box, err := core.NewKeyBox(bytes.Repeat([]byte{7}, core.KeyBoxKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return newTestServerWith(t, Config{ProviderKeys: box})
}

type providerReply struct {
	ID      int64
	Name    string
	Kind    string
	BaseURL string
	Models  []string
	Free    bool
	HasKey  bool
}

type apiErr struct {
	Error struct {
		Code, Message, Field string
		ProviderStatus       int
	}
}

// The provider API: create, read, change, test and delete, with the key never in any reply, in the
// audit log, in the server's log or in the database in clear.
func TestAIProvidersAPI(t *testing.T) {
	ts := newProviderTestServer(t)
	fake := fakeModelsServer(t)
	var seen bytes.Buffer // every reply body
	call := func(method, path string, body any, want int, out any) {
		t.Helper()
		seen.Write(ts.do(method, path, ts.owner, body, want, out))
	}

	var p providerReply
	call("POST", "/api/v1/providers", map[string]any{"name": "Work OpenAI", "kind": "openai-compatible",
		"baseUrl": fake.URL + "/v1/", "apiKey": fakeProviderKey}, 201, &p)
	if p.ID == 0 || p.Name != "Work OpenAI" || p.Kind != "openai-compatible" || p.BaseURL != fake.URL+"/v1" || !p.HasKey || p.Free || len(p.Models) != 0 {
		t.Fatalf("created: %+v", p)
	}
	id := itoa(p.ID)

	var list struct{ Items []providerReply }
	call("GET", "/api/v1/providers", nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != p.ID {
		t.Fatalf("list: %+v", list)
	}
	call("GET", "/api/v1/providers/"+id, nil, 200, &p)

	// The connection test lists the provider's models, and says which offered ones have no price.
	var test struct {
		OK       bool
		Models   []string
		Unpriced []string
	}
	call("POST", "/api/v1/providers/"+id+"/test", nil, 200, &test)
	if !test.OK || strings.Join(test.Models, ",") != "gpt-4o,gpt-4o-mini,my-local-llm" || strings.Join(test.Unpriced, ",") != "my-local-llm" {
		t.Fatalf("test: %+v", test)
	}

	// Offer two models; a free provider has no unpriced models.
	call("PATCH", "/api/v1/providers/"+id, map[string]any{"models": []string{"gpt-4o-mini", " my-local-llm ", "gpt-4o-mini"}}, 200, &p)
	if strings.Join(p.Models, ",") != "gpt-4o-mini,my-local-llm" || !p.HasKey {
		t.Fatalf("after PATCH models: %+v", p)
	}
	call("POST", "/api/v1/providers/"+id+"/test", nil, 200, &test)
	if strings.Join(test.Unpriced, ",") != "my-local-llm" {
		t.Fatalf("unpriced among the offered models: %+v", test)
	}
	call("PATCH", "/api/v1/providers/"+id, map[string]any{"free": true}, 200, &p)
	call("POST", "/api/v1/providers/"+id+"/test", nil, 200, &test)
	if !p.Free || len(test.Unpriced) != 0 {
		t.Fatalf("free: %+v %+v", p, test)
	}

	// A wrong key: 502 with the provider's status and message, the key it echoed kept out.
	call("PATCH", "/api/v1/providers/"+id, map[string]any{"apiKey": "sk-wrong-key-that-leaks-ABCD"}, 200, &p)
	var e apiErr
	call("POST", "/api/v1/providers/"+id+"/test", nil, 502, &e)
	if e.Error.Code != "provider_error" || e.Error.ProviderStatus != 401 || !strings.Contains(e.Error.Message, "answered 401: Incorrect API key provided") ||
		!strings.Contains(e.Error.Message, "Check the API key") {
		t.Fatalf("wrong key: %+v", e)
	}
	if strings.Contains(e.Error.Message, "sk-wrong") || strings.Contains(e.Error.Message, "ABCD") {
		t.Fatalf("the test echoed the key: %q", e.Error.Message)
	}
	call("PATCH", "/api/v1/providers/"+id, map[string]any{"apiKey": fakeProviderKey}, 200, &p)

	// A provider that is not there: 502 naming the address.
	var down providerReply
	call("POST", "/api/v1/providers", map[string]any{"name": "Ollama", "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:1/v1", "free": true}, 201, &down)
	if down.HasKey || !down.Free {
		t.Fatalf("keyless free provider: %+v", down)
	}
	call("POST", "/api/v1/providers/"+itoa(down.ID)+"/test", nil, 502, &e)
	if !strings.Contains(e.Error.Message, "http://127.0.0.1:1/v1 could not be reached") {
		t.Fatalf("down: %+v", e)
	}
	// A wrong path: 404 with a hint about the base URL.
	call("PATCH", "/api/v1/providers/"+itoa(down.ID), map[string]any{"baseUrl": fake.URL + "/nope"}, 200, nil)
	call("POST", "/api/v1/providers/"+itoa(down.ID)+"/test", nil, 502, &e)
	if e.Error.ProviderStatus != 404 || !strings.Contains(e.Error.Message, "Check the base URL") {
		t.Fatalf("wrong path: %+v", e)
	}

	call("DELETE", "/api/v1/providers/"+itoa(down.ID), nil, 200, nil)
	call("GET", "/api/v1/providers/"+itoa(down.ID), nil, 404, nil)
	call("DELETE", "/api/v1/providers/"+itoa(down.ID), nil, 404, nil)

	// The audit log has each change, without the key.
	var audit struct {
		Items []struct{ Action, Target, Detail string }
	}
	call("GET", "/api/v1/audit?limit=200", nil, 200, &audit)
	actions := map[string]int{}
	for _, a := range audit.Items {
		actions[a.Action]++
	}
	if actions["provider_created"] != 2 || actions["provider_changed"] < 5 || actions["provider_deleted"] != 1 {
		t.Fatalf("audit actions: %v", actions)
	}

	for what, text := range map[string]string{"a reply": seen.String(), "the log": ts.logs.String()} {
		for _, k := range []string{fakeProviderKey, "sk-wrong-key-that-leaks-ABCD", "SECRET-0123"} {
			if strings.Contains(text, k) {
				t.Errorf("%s holds a provider key (%s)", what, k)
			}
		}
	}
	var stored []byte
	if err := ts.db.Read().QueryRowForTest(t.Context(), "SELECT api_key_enc FROM providers WHERE id = "+id, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || bytes.Contains(stored, []byte("SECRET")) {
		t.Fatalf("the stored key is not sealed: %q", stored)
	}
}

// Each bad body is refused with 400 (or 404/409) naming the field, and changes nothing.
func TestAIProvidersValidation(t *testing.T) {
	ts := newProviderTestServer(t)
	ts.do("POST", "/api/v1/providers", ts.owner, map[string]any{"name": "A", "kind": "openai", "apiKey": "sk-a"}, 201, nil)
	long := strings.Repeat("m", 201)
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		field        string
	}{
		{"POST", "/api/v1/providers", "", 400, "body"},
		{"POST", "/api/v1/providers", "[1]", 400, "body"},
		{"POST", "/api/v1/providers", map[string]any{"kind": "openai"}, 400, "name"},
		{"POST", "/api/v1/providers", map[string]any{"name": "B", "kind": "gemini"}, 400, "kind"},
		{"POST", "/api/v1/providers", map[string]any{"name": "B", "kind": "openai-compatible"}, 400, "baseUrl"},
		{"POST", "/api/v1/providers", map[string]any{"name": "B", "kind": "openai", "baseUrl": "ftp://x"}, 400, "baseUrl"},
		{"POST", "/api/v1/providers", map[string]any{"name": "B", "kind": "openai", "baseUrl": "https://u:p@x/v1"}, 400, "baseUrl"},
		{"POST", "/api/v1/providers", map[string]any{"name": "B", "kind": "openai", "models": "gpt-4o"}, 400, "models"},
		{"POST", "/api/v1/providers", map[string]any{"name": "B", "kind": "openai", "models": []string{long}}, 400, "models"},
		{"POST", "/api/v1/providers", map[string]any{"name": "B", "kind": "openai", "free": "yes"}, 400, "free"},
		{"POST", "/api/v1/providers", map[string]any{"name": "B", "kind": "openai", "apiKey": 5}, 400, "apiKey"},
		{"POST", "/api/v1/providers", map[string]any{"name": "B", "kind": "openai", "timeoutMs": 0}, 400, "timeoutMs"},
		{"POST", "/api/v1/providers", map[string]any{"name": "A", "kind": "openai"}, 409, "name"},
		{"PATCH", "/api/v1/providers/1", map[string]any{"kind": "other"}, 400, "kind"},
		{"PATCH", "/api/v1/providers/99", map[string]any{"name": "C"}, 404, ""},
		{"GET", "/api/v1/providers/abc", nil, 404, ""},
		{"POST", "/api/v1/providers/99/test", nil, 404, ""},
		{"PUT", "/api/v1/prices/my-model", map[string]any{"output": "1"}, 400, "input"},
		{"PUT", "/api/v1/prices/my-model", map[string]any{"input": "1"}, 400, "output"},
		{"PUT", "/api/v1/prices/my-model", map[string]any{"input": "abc", "output": "1"}, 400, "input"},
		{"PUT", "/api/v1/prices/my-model", map[string]any{"input": "-1", "output": "1"}, 400, "input"},
		{"PUT", "/api/v1/prices/my-model", map[string]any{"input": "0.0000001", "output": "1"}, 400, "input"},
		{"PUT", "/api/v1/prices/my-model", map[string]any{"input": true, "output": "1"}, 400, "input"},
		{"PUT", "/api/v1/prices/my-model", map[string]any{"input": 1, "output": 2, "cachedInput": "x"}, 400, "cachedInput"},
		{"PUT", "/api/v1/prices/my-model", map[string]any{"input": 1, "output": 2, "perImage": []int{1}}, 400, "perImage"},
		{"PUT", "/api/v1/prices/" + long, map[string]any{"input": 1, "output": 2}, 400, "model"},
		{"DELETE", "/api/v1/prices/no-such-override", nil, 404, ""},
	} {
		var e apiErr
		ts.do(c.method, c.path, ts.owner, c.body, c.status, &e)
		if e.Error.Field != c.field {
			t.Errorf("%s %s %v: field %q, want %q (%s)", c.method, c.path, c.body, e.Error.Field, c.field, e.Error.Message)
		}
	}
	var list struct{ Items []providerReply }
	ts.do("GET", "/api/v1/providers", ts.owner, nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Kind != "openai" || list.Items[0].BaseURL != "https://api.openai.com/v1" {
		t.Fatalf("after the refused calls: %+v", list.Items)
	}
	var prices struct {
		Items []struct{ Model, From string }
	}
	ts.do("GET", "/api/v1/prices", ts.owner, nil, 200, &prices)
	for _, p := range prices.Items {
		if p.From != "table" {
			t.Fatalf("a refused PUT left an override: %+v", p)
		}
	}
}

// Prices: the shipped table with its date, exact overrides from text or numbers, and back to default.
func TestPricesAPI(t *testing.T) {
	ts := newProviderTestServer(t)
	type price struct {
		Model, From, Source, AsOf string
		Input, Output             json.Number
		CachedInput, PerImage     *json.Number
		Default                   *struct{ Input, Output json.Number }
	}
	var all struct {
		Items []price
		Table struct{ AsOf, Note string }
	}
	ts.do("GET", "/api/v1/prices", ts.owner, nil, 200, &all)
	if len(all.Items) < 30 || all.Table.AsOf == "" || all.Table.Note == "" {
		t.Fatalf("the shipped table: %d rows, %+v", len(all.Items), all.Table)
	}
	find := func(model string) *price {
		for i := range all.Items {
			if all.Items[i].Model == model {
				return &all.Items[i]
			}
		}
		return nil
	}
	def := find("gpt-4o")
	if def == nil || def.From != "table" || def.Source == "" || def.AsOf == "" || def.Default != nil {
		t.Fatalf("gpt-4o from the table: %+v", def)
	}

	// Text and numbers, parsed exactly (no float on the way: 0.000001 stays one micro-dollar).
	var v price
	ts.do("PUT", "/api/v1/prices/gpt-4o", ts.owner, `{"input":"1.10","output":4.4,"cachedInput":0.000001}`, 200, &v)
	if v.From != "override" || v.Input != "1.1" || v.Output != "4.4" || v.CachedInput == nil || *v.CachedInput != "0.000001" ||
		v.Default == nil || v.Default.Input != def.Input || v.Source != "admin" {
		t.Fatalf("override: %+v", v)
	}
	// A model the table does not know, with a slash in its id, escaped or not.
	v = price{}
	ts.do("PUT", "/api/v1/prices/acme%2Fllama-70b", ts.owner, map[string]any{"input": "0", "output": "0.5", "perImage": "0.04"}, 200, &v)
	if v.Model != "acme/llama-70b" || v.Default != nil || v.PerImage == nil || *v.PerImage != "0.04" {
		t.Fatalf("new model: %+v", v)
	}
	ts.do("GET", "/api/v1/prices", ts.owner, nil, 200, &all)
	if p := find("gpt-4o"); p.From != "override" || p.Default == nil || p.Input != "1.1" {
		t.Fatalf("listed override: %+v", p)
	}
	if p := find("acme/llama-70b"); p == nil || p.From != "override" {
		t.Fatalf("listed new model: %+v", p)
	}

	// Back to the default; the table's own model stays, the new one goes.
	ts.do("DELETE", "/api/v1/prices/gpt-4o", ts.owner, nil, 200, nil)
	ts.do("DELETE", "/api/v1/prices/acme/llama-70b", ts.owner, nil, 200, nil)
	ts.do("GET", "/api/v1/prices", ts.owner, nil, 200, &all)
	if p := find("gpt-4o"); p.From != "table" || p.Input != def.Input {
		t.Fatalf("after reset: %+v", p)
	}
	if find("acme/llama-70b") != nil {
		t.Fatal("a reset model with no default is still listed")
	}

	// Members may not see or set prices.
	_, member := ts.member("kid@example.org")
	ts.do("GET", "/api/v1/prices", member, nil, 403, nil)
	ts.do("PUT", "/api/v1/prices/gpt-4o", member, map[string]any{"input": 0, "output": 0}, 403, nil)
}

// What a provider's error says reaches the admin, never the key, whole, escaped or partly echoed.
func TestProviderErrorMessages(t *testing.T) {
	key := "sk-proj-abcdefghijklmnop1234"
	for _, c := range []struct{ body, want string }{
		{`{"error":{"message":"Incorrect API key provided: sk-proj-***********1234. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error"}}`,
			"Incorrect API key provided: sk-proj-***************. You can find your API key at https://platform.openai.com/account/api-keys."},
		{`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, "invalid x-api-key"},
		{`{"error":"unauthorized: ` + key + `"}`, "unauthorized: [key]"},
		{`{"message":"Forbidden"}`, "Forbidden"},
		{"<html>Bad gateway " + key + "</html>", "<html>Bad gateway [key]</html>"},
	} {
		got := providerErrorText([]byte(redactKey(c.body, key)))
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.body, got, c.want)
		}
	}
	if got := providerErrorText([]byte(strings.Repeat("x", 1000))); len([]rune(got)) != 301 {
		t.Errorf("a long body is not clipped: %d runes", len([]rune(got)))
	}
}

package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestParseRequestReadsWhatTheGatewayNeeds(t *testing.T) {
	cases := []struct {
		name   string
		e      Endpoint
		body   string
		model  string
		stream bool
		max    int64
		n      int64
		incl   bool
	}{
		{"chat max_tokens", ChatCompletions, `{"model":"gpt-4o","messages":[],"max_tokens":100}`, "gpt-4o", false, 100, 1, false},
		{"chat both caps: smaller binds", ChatCompletions, `{"model":"m","max_tokens":300,"max_completion_tokens":200,"n":3}`, "m", false, 200, 3, false},
		{"chat stream with include_usage", ChatCompletions, `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, "m", true, 0, 1, true},
		{"chat null caps", ChatCompletions, `{"model":"m","max_tokens":null,"stream":null}`, "m", false, 0, 1, false},
		{"responses", Responses, `{"model":"o3","input":"hi","max_output_tokens":5000,"stream":true}`, "o3", true, 5000, 1, false},
		{"messages", Messages, `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[]}`, "claude-sonnet-4-5", false, 1024, 1, false},
		{"embeddings ignores caps", Embeddings, `{"model":"text-embedding-3-small","input":"x","max_tokens":9}`, "text-embedding-3-small", false, 0, 1, false},
		{"images n", ImageGenerations, `{"model":"dall-e-3","prompt":"a cat","n":2,"size":"1024x1792","quality":"hd"}`, "dall-e-3", false, 0, 2, false},
	}
	for _, c := range cases {
		r, err := ParseRequest(c.e, []byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.Model != c.model || r.Stream != c.stream || r.MaxTokens != c.max || r.N != c.n || r.IncludeUsage != c.incl {
			t.Errorf("%s: got model=%q stream=%v max=%d n=%d incl=%v", c.name, r.Model, r.Stream, r.MaxTokens, r.N, r.IncludeUsage)
		}
	}
	warm, _ := ParseRequest(Messages, []byte(`{"model":"m","max_tokens":0,"messages":[]}`))
	none, _ := ParseRequest(Messages, []byte(`{"model":"m","messages":[]}`))
	if !warm.MaxTokensSet || warm.MaxTokens != 0 || none.MaxTokensSet {
		t.Errorf("max_tokens 0 (cache warm-up) must read as set: %v, absent as not: %v", warm.MaxTokensSet, none.MaxTokensSet)
	}
	r, _ := ParseRequest(ImageGenerations, []byte(cases[7].body))
	if r.ImageSize != "1024x1792" || r.ImageQuality != "hd" {
		t.Errorf("image size/quality = %q/%q", r.ImageSize, r.ImageQuality)
	}
}

func TestParseRequestRefusesBadBodies(t *testing.T) {
	cases := []struct{ body, param string }{
		{`not json`, ""},
		{`[1,2]`, ""},
		{`{"model":"m"} {"x":1}`, ""},
		{`{"messages":[]}`, "model"},
		{`{"model":""}`, "model"},
		{`{"model":5}`, "model"},
		{`{"model":"m","stream":"yes"}`, "stream"},
		{`{"model":"m","max_tokens":-1}`, "max_tokens"},
		{`{"model":"m","max_completion_tokens":1.5}`, "max_completion_tokens"},
		{`{"model":"m","n":"2"}`, "n"},
	}
	for _, c := range cases {
		_, err := ParseRequest(ChatCompletions, []byte(c.body))
		if !errors.Is(err, ErrBadRequest) || Param(err) != c.param {
			t.Errorf("%s: err=%v param=%q, want bad request about %q", c.body, err, Param(err), c.param)
		}
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("forwarded body is not JSON: %v: %s", err, b)
	}
	return m
}

func TestRewritesKeepUnknownFields(t *testing.T) {
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"<b>&</b>"}],"max_tokens":4000,"max_completion_tokens":4000,
		"stream":true,"stream_options":{"foo":1},"x_vendor":{"deep":[1,2.50,"z"]},"temperature":0.7}`
	r, err := ParseRequest(ChatCompletions, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	r.SetMaxTokens(250)
	if asked := r.EnsureIncludeUsage(); asked {
		t.Error("client did not ask for include_usage")
	}
	b, _ := r.Body()
	m := decode(t, b)
	if m["max_tokens"] != 250.0 || m["max_completion_tokens"] != 250.0 {
		t.Errorf("caps not lowered: %s", b)
	}
	so := m["stream_options"].(map[string]any)
	if so["include_usage"] != true || so["foo"] != 1.0 {
		t.Errorf("stream_options = %v", so)
	}
	if m["temperature"] != 0.7 || m["x_vendor"].(map[string]any)["deep"].([]any)[2] != "z" {
		t.Errorf("unknown fields lost: %s", b)
	}
	if !json.Valid(b) || string(b[len(b)-1]) != "}" || !bytes.Contains(b, []byte(`"<b>&</b>"`)) {
		t.Errorf("body changed its text: %s", b)
	}
}

func TestSetMaxTokensWhenClientNamedNone(t *testing.T) {
	cases := []struct {
		e     Endpoint
		field string
	}{{ChatCompletions, "max_completion_tokens"}, {Responses, "max_output_tokens"}, {Messages, "max_tokens"}}
	for _, c := range cases {
		r, _ := ParseRequest(c.e, []byte(`{"model":"m"}`))
		r.SetMaxTokens(77)
		b, _ := r.Body()
		if decode(t, b)[c.field] != 77.0 || r.MaxTokens != 77 {
			t.Errorf("endpoint %d: %s", c.e, b)
		}
	}
	r, _ := ParseRequest(ChatCompletions, []byte(`{"model":"m","max_completion_tokens":9}`))
	r.SetMaxTokensField("max_tokens", 5)
	b, _ := r.Body()
	if m := decode(t, b); m["max_tokens"] != 5.0 || m["max_completion_tokens"] != nil {
		t.Errorf("SetMaxTokensField: %s", b)
	}
}

func TestEnsureIncludeUsageOnlyForChatStreams(t *testing.T) {
	r, _ := ParseRequest(ChatCompletions, []byte(`{"model":"m","stream":true,"stream_options":{"include_usage":true}}`))
	if !r.EnsureIncludeUsage() {
		t.Error("client asked for include_usage")
	}
	plain, _ := ParseRequest(ChatCompletions, []byte(`{"model":"m"}`))
	plain.EnsureIncludeUsage()
	b, _ := plain.Body()
	if _, ok := decode(t, b)["stream_options"]; ok {
		t.Errorf("stream_options added to a plain request: %s", b)
	}
	resp, _ := ParseRequest(Responses, []byte(`{"model":"m","stream":true}`))
	resp.EnsureIncludeUsage()
	b, _ = resp.Body()
	if _, ok := decode(t, b)["stream_options"]; ok {
		t.Errorf("stream_options added to a responses request: %s", b)
	}
}

package wire

import (
	"slices"
	"testing"
)

func TestInputCollectsTextAndCountsImages(t *testing.T) {
	cases := []struct {
		name           string
		e              Endpoint
		body           string
		texts          []string // must all be among the collected texts
		msgs, imgs, id int64
	}{
		{"chat text and image_url", ChatCompletions, `{"model":"m","messages":[{"role":"system","content":"Be brief."},
			{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],
			"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`,
			[]string{"Be brief.", "What is this?", "get_weather", "city"}, 2, 1, 0},
		{"responses string input", Responses, `{"model":"m","instructions":"Answer in German.","input":"Hallo"}`,
			[]string{"Answer in German.", "Hallo"}, 1, 0, 0},
		{"responses input_image", Responses, `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"Describe"},{"type":"input_image","image_url":"https://x/y.png"}]}]}`,
			[]string{"Describe"}, 1, 1, 0},
		{"anthropic system and base64 image", Messages, `{"model":"m","max_tokens":9,"system":[{"type":"text","text":"You are kind."}],
			"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},{"type":"text","text":"你好"}]}]}`,
			[]string{"You are kind.", "你好"}, 1, 1, 0},
		{"embeddings strings", Embeddings, `{"model":"m","input":["one","two"]}`, []string{"one", "two"}, 0, 0, 0},
		{"embeddings token ids", Embeddings, `{"model":"m","input":[[1,2,3],[4]]}`, nil, 0, 0, 4},
		{"images prompt", ImageGenerations, `{"model":"m","prompt":"a red fox"}`, []string{"a red fox"}, 0, 0, 0},
	}
	for _, c := range cases {
		r, err := ParseRequest(c.e, []byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		in := r.Input()
		for _, want := range c.texts {
			if !slices.Contains(in.Texts, want) {
				t.Errorf("%s: %q not collected from %q", c.name, want, in.Texts)
			}
		}
		for _, got := range in.Texts {
			if got == "iVBOR" || got == "data:image/png;base64,AAAA" {
				t.Errorf("%s: image data counted as text", c.name)
			}
		}
		if c.name == "chat text and image_url" && in.Tools != 1 {
			t.Errorf("tools = %d, want 1", in.Tools)
		}
		if in.CacheControl != "" {
			t.Errorf("%s: cache control %q", c.name, in.CacheControl)
		}
		if in.Messages != c.msgs || in.Images != c.imgs || in.TokenIDs != c.id {
			t.Errorf("%s: messages=%d images=%d ids=%d", c.name, in.Messages, in.Images, in.TokenIDs)
		}
	}
}

func TestInputNotesAnthropicCacheMarks(t *testing.T) {
	cases := map[string]string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`:                                                 "",
		`{"model":"m","system":[{"type":"text","text":"long","cache_control":{"type":"ephemeral"}}],"messages":[]}`: "5m",
		`{"model":"m","tools":[{"name":"t","input_schema":{},"cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"ephemeral","ttl":"5m"}}]}]}`: "1h",
		`{"model":"m","cache_control":{"type":"ephemeral"},"messages":[]}`: "5m",
	}
	for body, want := range cases {
		r, err := ParseRequest(Messages, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		in := r.Input()
		if in.CacheControl != want {
			t.Errorf("%s: %q, want %q", body, in.CacheControl, want)
		}
		for _, s := range in.Texts {
			if s == "ephemeral" {
				t.Errorf("%s: the cache mark was counted as text", body)
			}
		}
	}
}

func TestInputNotesInputAddedByTheProvider(t *testing.T) {
	cases := []struct {
		e    Endpoint
		body string
		want string
	}{
		{ChatCompletions, `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}`, ""},
		{Messages, `{"model":"m","messages":[],"tools":[{"name":"get_weather","input_schema":{}},{"type":"custom","name":"x","input_schema":{}}]}`, ""},
		{Responses, `{"model":"m","input":"more","previous_response_id":"resp_1"}`, "previous_response_id"},
		{Responses, `{"model":"m","input":"hi","conversation":"conv_1"}`, "conversation"},
		{Responses, `{"model":"m","prompt":{"id":"pmpt_1"}}`, "prompt"},
		{Responses, `{"model":"m","input":"hi","tools":[{"type":"web_search"}]}`, "tool web_search"},
		{Responses, `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"file-1"}]}]}`, "file_id"},
		{Messages, `{"model":"m","messages":[],"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}]}`, "tool web_search_20250305"},
		{Messages, `{"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"file","file_id":"file_1"}}]}]}`, "file_id"},
		{ChatCompletions, `{"model":"m","messages":[],"prompt":"ignored outside responses"}`, ""},
		{ChatCompletions, `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}}]}]}`, "document"},
		{Responses, `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}]}]}`, "document"},
		{Messages, `{"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"}}]}]}`, "document"},
		{Messages, `{"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain words"}}]}]}`, ""},
		{ChatCompletions, `{"model":"gpt-4o-search-preview","messages":[],"web_search_options":{}}`, "web_search_options"},
	}
	for _, c := range cases {
		r, err := ParseRequest(c.e, []byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Input().Unbounded; got != c.want {
			t.Errorf("%s: %q, want %q", c.body, got, c.want)
		}
	}
}

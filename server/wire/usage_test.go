package wire

import "testing"

func TestReplyUsageNormalisesWithoutDoubleCounting(t *testing.T) {
	cases := []struct {
		name string
		e    Endpoint
		body string
		want Usage
		ok   bool
	}{
		{"openai chat: cached is inside prompt_tokens", ChatCompletions,
			`{"choices":[],"usage":{"prompt_tokens":2000,"completion_tokens":300,"total_tokens":2300,
			"prompt_tokens_details":{"cached_tokens":1536},"completion_tokens_details":{"reasoning_tokens":128}}}`,
			Usage{InputTokens: 2000, CachedInputTokens: 1536, OutputTokens: 300, ReasoningTokens: 128}, true},
		{"responses: reasoning inside output_tokens", Responses,
			`{"output":[],"usage":{"input_tokens":500,"input_tokens_details":{"cached_tokens":0},"output_tokens":900,
			"output_tokens_details":{"reasoning_tokens":700},"total_tokens":1400}}`,
			Usage{InputTokens: 500, OutputTokens: 900, ReasoningTokens: 700}, true},
		{"anthropic: cache reads and writes are outside input_tokens", Messages,
			`{"type":"message","usage":{"input_tokens":50,"cache_creation_input_tokens":1000,"cache_read_input_tokens":4000,"output_tokens":20}}`,
			Usage{InputTokens: 5050, CachedInputTokens: 4000, CacheWriteTokens: 1000, OutputTokens: 20}, true},
		{"anthropic 1-hour cache writes", Messages,
			`{"usage":{"input_tokens":10,"cache_creation_input_tokens":300,"cache_read_input_tokens":0,"output_tokens":5,
			"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens_details":{"thinking_tokens":3}}}`,
			Usage{InputTokens: 310, CacheWriteTokens: 300, CacheWrite1hTokens: 200, OutputTokens: 5, ReasoningTokens: 3}, true},
		{"anthropic null cache fields", Messages, `{"usage":{"input_tokens":7,"cache_creation_input_tokens":null,"output_tokens":3}}`,
			Usage{InputTokens: 7, OutputTokens: 3}, true},
		{"deepseek prompt_cache_hit_tokens", ChatCompletions,
			`{"usage":{"prompt_tokens":100,"completion_tokens":10,"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}}`,
			Usage{InputTokens: 100, CachedInputTokens: 64, OutputTokens: 10}, true},
		{"embeddings", Embeddings, `{"data":[{"embedding":[0.1]}],"usage":{"prompt_tokens":8,"total_tokens":8}}`,
			Usage{InputTokens: 8}, true},
		{"dall-e: images, no usage", ImageGenerations, `{"created":1,"data":[{"url":"u1"},{"url":"u2"}]}`,
			Usage{Images: 2}, true},
		{"gpt-image-1: tokens and images", ImageGenerations, `{"data":[{"b64_json":"x"}],"usage":{"input_tokens":40,"output_tokens":4160,"total_tokens":4200}}`,
			Usage{InputTokens: 40, OutputTokens: 4160, Images: 1}, true},
		{"negative and inconsistent counts clamp", ChatCompletions,
			`{"usage":{"prompt_tokens":-5,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":50},"completion_tokens_details":{"reasoning_tokens":99}}}`,
			Usage{OutputTokens: 10, ReasoningTokens: 10}, true},
		{"no usage", ChatCompletions, `{"choices":[]}`, Usage{}, false},
		{"not json", Messages, `oops`, Usage{}, false},
	}
	for _, c := range cases {
		got, ok := ReplyUsage(c.e, []byte(c.body))
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %+v %v, want %+v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

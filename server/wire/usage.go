package wire

import "encoding/json"

// Usage is a reply's usage, normalised so that nothing is counted twice:
//   - InputTokens is ALL input, cached reads and cache writes included. OpenAI's prompt_tokens /
//     input_tokens already include cached_tokens; Anthropic's input_tokens exclude cache reads and
//     writes, so for Anthropic InputTokens = input_tokens + cache_read_input_tokens +
//     cache_creation_input_tokens.
//   - CachedInputTokens and CacheWriteTokens are the parts of InputTokens read from / written to a cache;
//     CacheWrite1hTokens is the part of CacheWriteTokens written to Anthropic's 1-hour cache, which
//     costs more than the default 5-minute one.
//   - OutputTokens is ALL output, reasoning included (OpenAI's completion_tokens and output_tokens include
//     reasoning_tokens; Anthropic's output_tokens include thinking). ReasoningTokens is the part of
//     OutputTokens that was reasoning, for the record only: it must not be charged on top.
//   - Images is how many images an images request produced.
type Usage struct {
	InputTokens        int64
	CachedInputTokens  int64
	CacheWriteTokens   int64
	CacheWrite1hTokens int64
	OutputTokens       int64
	ReasoningTokens    int64
	Images             int64
}

// TotalTokens is input plus output.
func (u Usage) TotalTokens() int64 { return u.InputTokens + u.OutputTokens }

// openAIUsage covers the usage object of chat completions, responses, embeddings and images.
type openAIUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	InputTokens         int64 `json:"input_tokens"`
	OutputTokens        int64 `json:"output_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	PromptCacheHitTokens int64 `json:"prompt_cache_hit_tokens"` // DeepSeek's name for cached input
}

func (o openAIUsage) normalise() Usage {
	u := Usage{
		InputTokens:       o.PromptTokens + o.InputTokens, // one of the two names is used
		OutputTokens:      o.CompletionTokens + o.OutputTokens,
		CachedInputTokens: max(o.PromptTokensDetails.CachedTokens, o.InputTokensDetails.CachedTokens, o.PromptCacheHitTokens),
		ReasoningTokens:   o.CompletionTokensDetails.ReasoningTokens + o.OutputTokensDetails.ReasoningTokens,
	}
	return u.clamped()
}

// anthropicUsage is Anthropic's usage; in a message_delta every field but output_tokens may be null or
// absent, hence the pointers.
type anthropicUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreation            *struct {
		Ephemeral1h *int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	OutputTokensDetails *struct {
		ThinkingTokens *int64 `json:"thinking_tokens"` // inside output_tokens
	} `json:"output_tokens_details"`
}

// merge overlays the fields b carries: Anthropic's message_delta counts are cumulative, so the
// latest value of each field replaces the earlier one, never adds to it.
func (a anthropicUsage) merge(b anthropicUsage) anthropicUsage {
	if b.InputTokens != nil {
		a.InputTokens = b.InputTokens
	}
	if b.CacheCreationInputTokens != nil {
		a.CacheCreationInputTokens = b.CacheCreationInputTokens
	}
	if b.CacheReadInputTokens != nil {
		a.CacheReadInputTokens = b.CacheReadInputTokens
	}
	if b.OutputTokens != nil {
		a.OutputTokens = b.OutputTokens
	}
	if b.CacheCreation != nil {
		a.CacheCreation = b.CacheCreation
	}
	if b.OutputTokensDetails != nil && b.OutputTokensDetails.ThinkingTokens != nil {
		a.OutputTokensDetails = b.OutputTokensDetails
	}
	return a
}

func (a anthropicUsage) normalise() Usage {
	v := func(p *int64) int64 {
		if p == nil || *p < 0 {
			return 0
		}
		return *p
	}
	read, write := v(a.CacheReadInputTokens), v(a.CacheCreationInputTokens)
	u := Usage{
		InputTokens:       v(a.InputTokens) + read + write,
		CachedInputTokens: read,
		CacheWriteTokens:  write,
		OutputTokens:      v(a.OutputTokens),
	}
	if a.CacheCreation != nil {
		u.CacheWrite1hTokens = v(a.CacheCreation.Ephemeral1h)
	}
	if a.OutputTokensDetails != nil {
		u.ReasoningTokens = v(a.OutputTokensDetails.ThinkingTokens)
	}
	return u
}

// clamped makes every count ≥ 0 and keeps the parts within the whole.
func (u Usage) clamped() Usage {
	for _, p := range []*int64{&u.InputTokens, &u.CachedInputTokens, &u.CacheWriteTokens, &u.CacheWrite1hTokens, &u.OutputTokens, &u.ReasoningTokens, &u.Images} {
		*p = max(*p, 0)
	}
	u.CachedInputTokens = min(u.CachedInputTokens, u.InputTokens)
	u.CacheWriteTokens = min(u.CacheWriteTokens, u.InputTokens-u.CachedInputTokens)
	u.CacheWrite1hTokens = min(u.CacheWrite1hTokens, u.CacheWriteTokens)
	u.ReasoningTokens = min(u.ReasoningTokens, u.OutputTokens)
	return u
}

// ReplyUsage reads the usage of a plain (not streamed) reply of endpoint e. ok is false when the reply
// carries no usage (then the handler falls back to an estimate); an images reply without usage
// (dall-e) still reports its image count.
func ReplyUsage(e Endpoint, body []byte) (u Usage, ok bool) {
	if e == Messages {
		var r struct {
			Usage *anthropicUsage `json:"usage"`
		}
		if json.Unmarshal(body, &r) != nil || r.Usage == nil {
			return Usage{}, false
		}
		return r.Usage.normalise().clamped(), true
	}
	var r struct {
		Usage *openAIUsage      `json:"usage"`
		Data  []json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &r) != nil {
		return Usage{}, false
	}
	if r.Usage != nil {
		u, ok = r.Usage.normalise(), true
	}
	if e == ImageGenerations {
		u.Images, ok = int64(len(r.Data)), ok || len(r.Data) > 0
	}
	return u, ok
}

package core

import "strings"

// EstimateInput is what a gateway request sends the model (the handler copies it from wire.Input).
type EstimateInput struct {
	Texts    []string // message contents, system prompts, tool definitions and schemas, with their keys
	Messages int64
	Images   int64
	TokenIDs int64 // input sent as token ids (embeddings)
	Tools    int64
}

// Overheads a provider adds around the text, generous so the estimate stays at or above them.
const (
	estimateRequestOverhead = 64  // the chat template's start, reply priming
	estimateMessageOverhead = 16  // role markers and separators per message (OpenAI counts 3–4)
	estimateToolsOverhead   = 800 // Anthropic's hidden tool-use prompt is ~350 tokens; OpenAI's is smaller
	estimatePerTool         = 32  // per definition: name, type and wrapper tokens
)

// EstimateInputTokens is a conservative count of a request's input tokens: at or above what any
// tokenizer of the providers we know reports, by construction rather than by sampling.
//
// The bound is the text's UTF-8 byte count. Byte-level BPE tokenizers (OpenAI's cl100k_base and
// o200k_base, Anthropic's, Llama 3's, DeepSeek's) start from one token per byte and every merge joins two
// tokens into one, so a text never has more tokens than bytes; SentencePiece tokenizers with byte
// fallback (Gemini, Mistral, Llama 2) give each character a piece or its bytes, plus at most one
// dummy-prefix token per text. On top come generous per-request, per-message and tool overheads, and
// each image at the most tokens its model can charge for one (ImageTokenBound).
//
// It is not tight: English averages about 4 bytes a token in cl100k/o200k, so the estimate is ~4× the
// real count there, and other scripts vary (each CJK character is 3 bytes, often a token or less). It only sizes a hold, which the real usage then settles,
// and input is the cheap side of most prices; a tighter bound would need a tokenizer's vocabulary.
func EstimateInputTokens(in EstimateInput, model string) int64 {
	n := int64(estimateRequestOverhead) + max(in.Messages, 0)*estimateMessageOverhead
	for _, s := range in.Texts {
		n += int64(len(s)) + 1
	}
	if in.Tools > 0 {
		n += estimateToolsOverhead + in.Tools*estimatePerTool
	}
	n += max(in.TokenIDs, 0)
	n += max(in.Images, 0) * ImageTokenBound(model)
	return min(n, MaxCount)
}

// imageTokenBounds are the most input tokens one image can count for, per model family, from the
// providers' image-token rules as the author knows them (2025-11): OpenAI tile models at most 8 tiles
// after scaling (gpt-4o 85+8×170 = 1445); gpt-4o-mini multiplies tiles (2833+8×5667 = 48169); patch
// models at most 1536 patches × their multiplier; Anthropic ~1600 (images are scaled to ≤1.15 MP);
// Gemini 258 per 768-px tile. First match wins.
var imageTokenBounds = []struct {
	contains string
	tokens   int64
}{
	{"gpt-4o-mini", 48_169},
	{"nano", 3_800}, // gpt-4.1-nano, gpt-5-nano: 1536 × 2.46
	{"mini", 2_700}, // gpt-4.1-mini 1.62, gpt-5-mini 1.62, o4-mini 1.72 (× 1536)
	{"claude", 1_700},
	{"gemini", 4_200},
	{"gpt-", 1_500},
	{"o1", 1_500},
	{"o3", 1_500},
}

// defaultImageTokens bounds an image for a model not listed above.
const defaultImageTokens = 4_200

// ImageTokenBound is the most input tokens one image can cost for model.
func ImageTokenBound(model string) int64 {
	m := strings.ToLower(model)
	for _, b := range imageTokenBounds {
		if strings.Contains(m, b.contains) {
			return b.tokens
		}
	}
	return defaultImageTokens
}

// EstimateOutputTokens bounds the output tokens of text that was streamed before a stream was cut
// (its byte count, by the same argument), for a charge flagged "estimated".
func EstimateOutputTokens(streamedTextBytes int64) int64 {
	return min(max(streamedTextBytes, 0), MaxCount)
}

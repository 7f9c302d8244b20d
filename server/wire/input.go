package wire

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Input is what a request sends the model, for the domain's input estimate: the text parts (message
// contents, system prompts, tool definitions, schemas, with the JSON keys inside them), how many
// messages they come in, how many images, and how many tokens were sent as token ids.
type Input struct {
	Texts    []string
	Messages int64
	Images   int64
	TokenIDs int64
	// Tools is how many tool (function) definitions the request carries; providers add a hidden
	// prompt to explain them.
	Tools int64
	// CacheControl is the longest prompt-cache lifetime an Anthropic request asks for: "" (it marks
	// nothing for caching, so it can write no cache), "5m" or "1h". OpenAI caches without marks and
	// charges no cache writes: always "".
	CacheControl string
	// Unbounded names what keeps the body from bounding the input ("" when nothing does): input the
	// provider adds itself (a stored conversation: previous_response_id, conversation; a stored
	// prompt; a file sent by id; a server-side tool such as web search, file search, code execution
	// or MCP, whose results feed the model again), or a document (PDF) whose compressed bytes may
	// hold far more text than they weigh. The handler must hold for such a request by other means
	// (the model's context window, a cap).
	Unbounded string
}

// inputFields are the body fields that carry model input, per endpoint.
func inputFields(e Endpoint) []string {
	switch e {
	case ChatCompletions:
		return []string{"messages", "tools", "functions", "response_format", "prediction"}
	case Responses:
		return []string{"input", "instructions", "tools", "text"}
	case Messages:
		return []string{"system", "messages", "tools"}
	case Embeddings:
		return []string{"input"}
	case ImageGenerations:
		return []string{"prompt"}
	}
	return nil
}

// Input collects the request's input. Base64 and URL images count as images, not as text; any other
// string (files and audio included) counts as text, byte for byte.
func (r *Request) Input() Input {
	var in Input
	for _, f := range []string{"previous_response_id", "conversation", "prompt", "mcp_servers", "container"} {
		if raw, ok := r.fields[f]; ok && string(raw) != "null" && (r.Endpoint == Responses || r.Endpoint == Messages) {
			in.Unbounded = f
		}
	}
	if raw, ok := r.fields["web_search_options"]; ok && string(raw) != "null" && r.Endpoint == ChatCompletions {
		in.Unbounded = "web_search_options"
	}
	if r.Endpoint == Messages {
		if raw, ok := r.fields["cache_control"]; ok {
			var v any
			if json.Unmarshal(raw, &v) == nil {
				in.noteCacheControl(v)
			}
		}
	}
	for _, f := range inputFields(r.Endpoint) {
		raw, ok := r.fields[f]
		if !ok {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		if f == "messages" || (f == "input" && r.Endpoint == Responses) {
			if list, ok := v.([]any); ok {
				in.Messages += int64(len(list))
			} else {
				in.Messages++
			}
		}
		if list, ok := v.([]any); ok && (f == "tools" || f == "functions") {
			in.Tools += int64(len(list))
			in.noteServerTools(list)
		}
		if f == "input" && r.Endpoint == Embeddings && in.addTokenIDs(v) {
			continue
		}
		in.walk(v)
	}
	return in
}

// addTokenIDs counts embeddings input given as token ids ([1,2,3] or [[1,2],[3]]).
func (in *Input) addTokenIDs(v any) bool {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return false
	}
	var n int64
	for _, x := range list {
		switch x := x.(type) {
		case float64:
			n++
		case []any:
			for _, y := range x {
				if _, ok := y.(float64); !ok {
					return false
				}
			}
			n += int64(len(x))
		default:
			return false
		}
	}
	in.TokenIDs += n
	return true
}

func (in *Input) walk(v any) {
	switch v := v.(type) {
	case string:
		if isDataImage(v) {
			in.Images++
			return
		}
		in.Texts = append(in.Texts, v)
	case []any:
		for _, x := range v {
			in.walk(x)
		}
	case map[string]any:
		if isImagePart(v) {
			in.Images++
			return
		}
		if _, ok := v["file_id"]; ok && in.Unbounded == "" {
			in.Unbounded = "file_id"
		}
		if isDocumentPart(v) && in.Unbounded == "" {
			in.Unbounded = "document"
		}
		for k, x := range v {
			if k == "cache_control" {
				in.noteCacheControl(x)
				continue
			}
			in.Texts = append(in.Texts, k)
			in.walk(x)
		}
	case float64:
		in.Texts = append(in.Texts, strconv.FormatFloat(v, 'g', -1, 64))
	case bool:
		in.Texts = append(in.Texts, "false")
	}
}

// noteServerTools notes a tool the provider runs itself. Client tools are "function" (OpenAI),
// "custom", or have no type (Anthropic); anything else (web_search, file_search, code_interpreter,
// web_search_20250305, mcp, …) runs at the provider and feeds its results back as input.
func (in *Input) noteServerTools(tools []any) {
	for _, t := range tools {
		m, ok := t.(map[string]any)
		if !ok {
			continue
		}
		typ, _ := m["type"].(string)
		if typ != "" && typ != "function" && typ != "custom" {
			in.Unbounded = "tool " + typ
		}
	}
}

// noteCacheControl records a cache_control mark ({"type":"ephemeral","ttl":"1h"}; no ttl is 5m).
func (in *Input) noteCacheControl(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	if ttl, _ := m["ttl"].(string); ttl == "1h" {
		in.CacheControl = "1h"
	} else if in.CacheControl == "" {
		in.CacheControl = "5m"
	}
}

// isImagePart is an image content part: OpenAI chat image_url, Responses input_image, Anthropic image.
func isImagePart(m map[string]any) bool {
	t, _ := m["type"].(string)
	return t == "image_url" || t == "input_image" || t == "image"
}

// isDocumentPart is a file sent inline: OpenAI chat "file", Responses "input_file", or an Anthropic
// "document" whose source is a PDF (base64 or URL). An Anthropic text document is plain text, counted.
func isDocumentPart(m map[string]any) bool {
	switch t, _ := m["type"].(string); t {
	case "file", "input_file":
		return true
	case "document":
		src, _ := m["source"].(map[string]any)
		st, _ := src["type"].(string)
		return st == "base64" || st == "url" // "file" is by id (noted as such); "text" and "content" are text
	}
	return false
}

func isDataImage(s string) bool {
	return strings.HasPrefix(s, "data:image/") && strings.Contains(s[:min(len(s), 64)], ";base64,")
}

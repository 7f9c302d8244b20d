package wire

import (
	"bytes"
	"encoding/json"
	"strings"
)

// StreamMeter watches a streamed reply event by event as it passes: it keeps the usage the provider
// reports, counts the text streamed (for an estimate when the stream is cut before its usage), notes an
// error event, and says which events to pass on.
//
//   - OpenAI chat: the final chunk with "usage" (asked for with stream_options.include_usage) — its
//     "choices" are empty; with dropUsageChunk (the client did not ask for it) that chunk is not passed on.
//   - Responses: the usage inside response.completed, response.incomplete or response.failed.
//   - Anthropic: message_start's message.usage, then each message_delta's usage replacing (never adding
//     to) the fields it carries, as its counts are cumulative.
//   - Images (gpt-image-1 streams): each image_generation.completed event, one image each.
type StreamMeter struct {
	endpoint       Endpoint
	dropUsageChunk bool

	usage     Usage
	anthropic anthropicUsage
	gotUsage  bool
	textBytes int64
	done      bool
	errBody   []byte
}

// NewStreamMeter meters a stream of endpoint e. dropUsageChunk removes the OpenAI chat usage chunk.
func NewStreamMeter(e Endpoint, dropUsageChunk bool) *StreamMeter {
	return &StreamMeter{endpoint: e, dropUsageChunk: dropUsageChunk && e == ChatCompletions}
}

// Observe reads one event and reports whether to pass it on to the client.
func (m *StreamMeter) Observe(ev Event) (forward bool) {
	data := ev.Data
	if len(data) == 0 {
		return true
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		m.done = true
		return true
	}
	switch m.endpoint {
	case ChatCompletions:
		return m.observeChat(data)
	case Responses:
		m.observeResponses(data)
	case Messages:
		m.observeAnthropic(data)
	case ImageGenerations:
		m.observeImages(data)
	}
	return true
}

// observeImages reads a streamed images request (gpt-image-1 with stream): each
// image_generation.completed event is one image with its usage. Taken as per-image counts: output
// tokens add up, the prompt (input) counts once. Whether a stream of several images reports per
// image or running totals was not checked against the provider; with n = 1 both agree.
func (m *StreamMeter) observeImages(data []byte) {
	var e struct {
		Type  string       `json:"type"`
		Usage *openAIUsage `json:"usage"`
	}
	if json.Unmarshal(data, &e) != nil || e.Type != "image_generation.completed" {
		return
	}
	m.usage.Images++
	m.gotUsage, m.done = true, true
	if e.Usage != nil {
		u := e.Usage.normalise()
		m.usage.InputTokens = max(m.usage.InputTokens, u.InputTokens)
		m.usage.CachedInputTokens = max(m.usage.CachedInputTokens, u.CachedInputTokens)
		m.usage.OutputTokens += u.OutputTokens
	}
}

type chatChunk struct {
	Choices []struct {
		Delta struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			Refusal          string `json:"refusal"`
			ToolCalls        []struct {
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *openAIUsage    `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (m *StreamMeter) observeChat(data []byte) bool {
	var c chatChunk
	if json.Unmarshal(data, &c) != nil {
		return true
	}
	if len(c.Error) > 0 && string(c.Error) != "null" {
		m.errBody = append([]byte(nil), data...)
	}
	for _, ch := range c.Choices {
		d := ch.Delta
		m.textBytes += int64(len(d.Content) + len(d.ReasoningContent) + len(d.Refusal))
		for _, tc := range d.ToolCalls {
			m.textBytes += int64(len(tc.Function.Name) + len(tc.Function.Arguments))
		}
	}
	if c.Usage == nil {
		return true
	}
	m.usage, m.gotUsage = c.Usage.normalise(), true // last wins: some servers repeat running totals
	return !(m.dropUsageChunk && len(c.Choices) == 0)
}

func (m *StreamMeter) observeResponses(data []byte) {
	var e struct {
		Type     string `json:"type"`
		Delta    any    `json:"delta"`
		Response struct {
			Usage *openAIUsage `json:"usage"`
		} `json:"response"`
	}
	if json.Unmarshal(data, &e) != nil {
		return
	}
	if s, ok := e.Delta.(string); ok && strings.HasSuffix(e.Type, ".delta") {
		m.textBytes += int64(len(s))
	}
	switch e.Type {
	case "response.completed", "response.incomplete", "response.failed":
		m.done = true
		if e.Response.Usage != nil {
			m.usage, m.gotUsage = e.Response.Usage.normalise(), true
		}
	case "error":
		m.errBody = append([]byte(nil), data...)
	}
}

func (m *StreamMeter) observeAnthropic(data []byte) {
	var e struct {
		Type    string `json:"type"`
		Message struct {
			Usage *anthropicUsage `json:"usage"`
		} `json:"message"`
		Delta struct {
			Text        string `json:"text"`
			Thinking    string `json:"thinking"`
			PartialJSON string `json:"partial_json"`
		} `json:"delta"`
		Usage *anthropicUsage `json:"usage"`
	}
	if json.Unmarshal(data, &e) != nil {
		return
	}
	switch e.Type {
	case "message_start":
		if e.Message.Usage != nil {
			m.anthropic, m.gotUsage = *e.Message.Usage, true
		}
	case "content_block_delta":
		m.textBytes += int64(len(e.Delta.Text) + len(e.Delta.Thinking) + len(e.Delta.PartialJSON))
	case "message_delta":
		if e.Usage != nil {
			m.anthropic, m.gotUsage = m.anthropic.merge(*e.Usage), true
		}
	case "message_stop":
		m.done = true
	case "error":
		m.errBody = append([]byte(nil), data...)
	}
	m.usage = m.anthropic.normalise()
}

// Usage is the usage reported so far; ok is false when the stream carried none (cut before it, or a
// provider that does not send it): the handler then charges an estimate flagged "estimated".
func (m *StreamMeter) Usage() (u Usage, ok bool) { return m.usage.clamped(), m.gotUsage }

// Complete reports whether the stream reached its end marker ([DONE], message_stop, or a final
// Responses event), so a stream cut before it can be told apart.
func (m *StreamMeter) Complete() bool { return m.done }

// StreamedTextBytes is how many bytes of text (content, reasoning, tool arguments) were streamed: an
// upper bound of the output tokens streamed so far for an estimate.
func (m *StreamMeter) StreamedTextBytes() int64 { return m.textBytes }

// ErrorEvent is the data of an error event seen in the stream (nil if none): a provider error mid-stream.
func (m *StreamMeter) ErrorEvent() []byte { return m.errBody }

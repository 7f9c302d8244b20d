package providers_test

// Real clients that no one here wrote (the official OpenAI and Anthropic Go SDKs) talk, plain and
// streamed, to a minimal pass-through made of package wire and package providers, in front of fake
// providers. It proves the parts keep the wire formats intact: the SDKs parse every reply, the
// injected include_usage chunk never reaches a client that did not ask for it, and the meter reads
// the same usage the SDK sees.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"tokenjar/server/providers"
	"tokenjar/server/wire"
)

type metered struct {
	mu    sync.Mutex
	usage []wire.Usage
	ok    []bool
}

func (m *metered) add(u wire.Usage, ok bool) {
	m.mu.Lock()
	m.usage, m.ok = append(m.usage, u), append(m.ok, ok)
	m.mu.Unlock()
}

func (m *metered) last(t *testing.T) wire.Usage {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.usage) == 0 || !m.ok[len(m.ok)-1] {
		t.Fatal("no usage metered")
	}
	return m.usage[len(m.usage)-1]
}

// passThrough is the least a gateway handler does with the parts: parse, ask for usage, forward,
// relay, meter. Holds, routing and auth are left out.
func passThrough(e wire.Endpoint, c *providers.Client, log *metered) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := wire.ParseRequest(e, body)
		if err != nil {
			wire.BadRequest(err.Error(), wire.Param(err)).Write(w, e.Format())
			return
		}
		clientAsked := req.IncludeUsage
		if req.Stream && c.InjectIncludeUsage() {
			clientAsked = req.EnsureIncludeUsage()
		}
		out, _ := req.Body()
		resp, err := c.Do(r.Context(), e, out, r.Header)
		if err != nil {
			if providers.IsTimeout(err) {
				wire.Timeout("The AI provider did not answer in time.").Write(w, e.Format())
			} else {
				wire.BadGateway("The AI provider could not be reached.").Write(w, e.Format())
			}
			return
		}
		if !resp.OK() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(resp.Status)
			w.Write(resp.ErrorBody())
			return
		}
		defer resp.Body.Close()
		if !req.Stream {
			b, _ := io.ReadAll(resp.Body)
			u, ok := wire.ReplyUsage(e, b)
			log.add(u, ok)
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		m := wire.NewStreamMeter(e, !clientAsked)
		fl := w.(http.Flusher)
		wire.Relay(w, func() error { fl.Flush(); return nil }, resp.Body, m, nil)
		u, ok := m.Usage()
		log.add(u, ok)
	}
}

// fakeOpenAI answers chat completions like OpenAI: the usage chunk only when include_usage is asked.
func fakeOpenAI(t *testing.T, sawIncludeUsage *bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model         string `json:"model"`
			Stream        bool   `json:"stream"`
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-provider" {
			w.WriteHeader(404)
			return
		}
		if req.Model == "busy" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
			return
		}
		usage := `{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":0}}`
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":%s}`, usage)
			return
		}
		*sawIncludeUsage = req.StreamOptions.IncludeUsage
		w.Header().Set("Content-Type", "text/event-stream")
		for _, part := range []string{"Hel", "lo!"} {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", part)
			w.(http.Flusher).Flush()
		}
		if req.StreamOptions.IncludeUsage {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":%s}\n\n", usage)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func openAIThrough(t *testing.T, provider *httptest.Server, log *metered) openai.Client {
	t.Helper()
	c, err := providers.New(providers.Config{Name: "openai", Kind: providers.OpenAI, BaseURL: provider.URL + "/v1", APIKey: "sk-provider", Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(passThrough(wire.ChatCompletions, c, log))
	t.Cleanup(gw.Close)
	return openai.NewClient(ooption.WithBaseURL(gw.URL+"/v1/"), ooption.WithAPIKey("tj-member-token"), ooption.WithMaxRetries(0))
}

func TestOpenAISDKThroughTheParts(t *testing.T) {
	var sawInclude bool
	log := &metered{}
	client := openAIThrough(t, fakeOpenAI(t, &sawInclude), log)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}

	res, err := client.Chat.Completions.New(ctx, params)
	if err != nil || res.Choices[0].Message.Content != "Hello!" || res.Usage.PromptTokens != 12 {
		t.Fatalf("plain: %v %+v", err, res)
	}
	if u := log.last(t); u != (wire.Usage{InputTokens: 12, CachedInputTokens: 4, OutputTokens: 2}) {
		t.Errorf("plain metered %+v", u)
	}

	for _, asks := range []bool{false, true} {
		p := params
		if asks {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		text, sawUsage, emptyChoices := "", false, false
		for stream.Next() {
			ch := stream.Current()
			if len(ch.Choices) > 0 {
				text += ch.Choices[0].Delta.Content
			} else {
				emptyChoices = true
			}
			sawUsage = sawUsage || ch.Usage.TotalTokens > 0
		}
		if err := stream.Err(); err != nil || text != "Hello!" {
			t.Fatalf("asks=%v: %v %q", asks, err, text)
		}
		if !sawInclude {
			t.Errorf("asks=%v: include_usage was not injected", asks)
		}
		if sawUsage != asks || emptyChoices != asks {
			t.Errorf("asks=%v: the client saw the usage chunk: %v (empty choices %v)", asks, sawUsage, emptyChoices)
		}
		if u := log.last(t); u.InputTokens != 12 || u.OutputTokens != 2 {
			t.Errorf("asks=%v: metered %+v", asks, u)
		}
	}

	p := params
	p.Model = "busy"
	_, err = client.Chat.Completions.New(ctx, p)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Message != "slow down" || apiErr.Code != "rate_limit_exceeded" {
		t.Errorf("provider error before the first byte: %v", err)
	}
}

const anthropicSSE = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":2000,\"output_tokens\":1}}}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: ping\ndata: {\"type\": \"ping\"}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n" +
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n" +
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

func fakeAnthropic(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stream bool `json:"stream"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if r.Header.Get("x-api-key") != "ak-provider" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			fmt.Fprint(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
			return
		}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":15}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, anthropicSSE)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func anthropicThrough(t *testing.T, provider *httptest.Server, key string, log *metered) anthropic.Client {
	t.Helper()
	c, err := providers.New(providers.Config{Name: "anthropic", Kind: providers.Anthropic, BaseURL: provider.URL + "/v1", APIKey: key, Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(passThrough(wire.Messages, c, log))
	t.Cleanup(gw.Close)
	return anthropic.NewClient(aoption.WithBaseURL(gw.URL+"/"), aoption.WithAPIKey("tj-member-token"), aoption.WithMaxRetries(0))
}

func TestAnthropicSDKThroughTheParts(t *testing.T) {
	log := &metered{}
	provider := fakeAnthropic(t)
	client := anthropicThrough(t, provider, "ak-provider", log)
	ctx := context.Background()
	params := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}}
	want := wire.Usage{InputTokens: 2125, CachedInputTokens: 2000, CacheWriteTokens: 100, OutputTokens: 15}

	msg, err := client.Messages.New(ctx, params)
	if err != nil || msg.Content[0].Text != "Hello" || msg.Usage.OutputTokens != 15 {
		t.Fatalf("plain: %v %+v", err, msg)
	}
	if u := log.last(t); u != want {
		t.Errorf("plain metered %+v", u)
	}

	stream := client.Messages.NewStreaming(ctx, params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil || len(acc.Content) != 1 || acc.Content[0].Text != "Hello" {
		t.Fatalf("stream: %v %+v", err, acc.Content)
	}
	if acc.Usage.OutputTokens != 15 || acc.Usage.InputTokens != 25 || acc.Usage.CacheReadInputTokens != 2000 {
		t.Errorf("the SDK's usage: %+v", acc.Usage)
	}
	if u := log.last(t); u != want {
		t.Errorf("stream metered %+v, want %+v", u, want)
	}

	bad := anthropicThrough(t, provider, "wrong", &metered{})
	_, err = bad.Messages.New(ctx, params)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(err.Error(), "authentication_error") {
		t.Errorf("provider error before the first byte: %v", err)
	}
}

// TestSDKsReadTokenjarErrors: the errors tokenjar writes itself (wire.Error) are read by both SDKs
// as the status, type and message a provider would send.
func TestSDKsReadTokenjarErrors(t *testing.T) {
	cases := []*wire.Error{
		wire.InsufficientQuota("Your Homework allowance from Mum is used up until tomorrow 00:00."),
		wire.Timeout("The AI provider did not answer in time."),
		wire.ModelNotFound("gpt-9 has no price yet; an admin can set one."),
		wire.RateLimited("Too many requests; wait a little.", 7),
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f := wire.OpenAI
			if strings.HasSuffix(r.URL.Path, "/messages") {
				f = wire.Anthropic
			}
			c.Write(w, f)
		}))
		oc := openai.NewClient(ooption.WithBaseURL(srv.URL+"/v1/"), ooption.WithAPIKey("k"), ooption.WithMaxRetries(0))
		_, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "m",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}})
		var oe *openai.Error
		wantType, wantCode, _ := wireTypes(c)
		if !errors.As(err, &oe) || oe.StatusCode != c.Status || oe.Message != c.Message || oe.Type != wantType || oe.Code != wantCode {
			t.Errorf("%d openai: %v %+v", c.Status, err, oe)
		}
		ac := anthropic.NewClient(aoption.WithBaseURL(srv.URL+"/"), aoption.WithAPIKey("k"), aoption.WithMaxRetries(0))
		_, err = ac.Messages.New(context.Background(), anthropic.MessageNewParams{Model: "m", MaxTokens: 5,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}})
		var ae *anthropic.Error
		_, _, wantAn := wireTypes(c)
		if !errors.As(err, &ae) || ae.StatusCode != c.Status || ae.Message != c.Message || string(ae.Type()) != wantAn {
			t.Errorf("%d anthropic: %v", c.Status, err)
		}
		srv.Close()
	}
}

// wireTypes reads back the types an error body carries in each format.
func wireTypes(e *wire.Error) (oaType, oaCode, anType string) {
	var oa struct{ Error struct{ Type, Code string } }
	var an struct{ Error struct{ Type string } }
	json.Unmarshal(e.Body(wire.OpenAI), &oa)
	json.Unmarshal(e.Body(wire.Anthropic), &an)
	return oa.Error.Type, oa.Error.Code, an.Error.Type
}

package server

// The AI gateway end to end, against fake providers (httptest servers speaking OpenAI and
// Anthropic) and through the official OpenAI and Anthropic Go SDKs pointed at tokenjar's /v1.
//
// Billing here is fakeBilling, not the domain's hold-then-settle (not on this branch yet): these
// tests prove what the HTTP layer does with the contract (a hold before forwarding, exactly one
// settle or release after, the member, allowance, app, model, caps and usage it passes, its 402
// mapped to each wire format), not the money rules themselves.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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

	"tokenjar/server/core"
)

// fakeBilling records what the gateway asks of the domain.
type fakeBilling struct {
	mu       sync.Mutex
	holds    []core.GatewayCall
	holders  []core.Principal
	settled  []core.GatewayUsage
	released []core.GatewayHold
	refuse   string // Hold answers EPAYMENT with this message when set
	lowerTo  int64  // Hold lowers the output cap to this when set
	next     int64
	ended    chan struct{} // receives once per settle or release
}

func newFakeBilling() *fakeBilling { return &fakeBilling{ended: make(chan struct{}, 100)} }

func (f *fakeBilling) HoldGatewayCall(_ context.Context, p core.Principal, call core.GatewayCall) (core.GatewayHold, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holds, f.holders = append(f.holds, call), append(f.holders, p)
	if f.refuse != "" {
		return core.GatewayHold{}, core.Errorf(core.EPAYMENT, "%s", f.refuse)
	}
	f.next++
	h := core.GatewayHold{ID: f.next, MemberID: call.MemberID, Credits: 1000, OutputTokens: call.Hold.OutputTokens}
	if f.lowerTo > 0 && f.lowerTo < h.OutputTokens {
		h.OutputTokens, h.Lowered = f.lowerTo, true
	}
	return h, nil
}

func (f *fakeBilling) SettleGatewayCall(_ context.Context, h core.GatewayHold, call core.GatewayCall, u core.GatewayUsage) (core.ChargeResult, error) {
	f.mu.Lock()
	f.settled = append(f.settled, u)
	f.mu.Unlock()
	f.ended <- struct{}{}
	return core.ChargeResult{}, nil
}

func (f *fakeBilling) ReleaseGatewayCall(_ context.Context, h core.GatewayHold) error {
	f.mu.Lock()
	f.released = append(f.released, h)
	f.mu.Unlock()
	f.ended <- struct{}{}
	return nil
}

func (f *fakeBilling) counts() (holds, settled, released int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.holds), len(f.settled), len(f.released)
}

// waitEnd waits for the settle or release of a request (a stream's happens after its reply).
func (f *fakeBilling) waitEnd(t *testing.T) {
	t.Helper()
	select {
	case <-f.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the hold was neither settled nor released")
	}
}

func (f *fakeBilling) lastUsage() core.GatewayUsage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settled[len(f.settled)-1]
}

func (f *fakeBilling) lastCall() core.GatewayCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.holds[len(f.holds)-1]
}

// fakeUpstream is one httptest server speaking both wire formats. What it does depends on the
// last user message: "fail" → 429 before the first byte; "cut" → one chunk, then the connection
// drops before the usage; "wait" → one chunk, then the rest when release is closed; "silent" →
// no answer for 3 s (past the provider's 1 s timeout).
type fakeUpstream struct {
	srv          *httptest.Server
	release      chan struct{}
	sawInclude   bool
	lastMaxToken int64
	mu           sync.Mutex
}

func (f *fakeUpstream) maxTokens() int64 { f.mu.Lock(); defer f.mu.Unlock(); return f.lastMaxToken }
func (f *fakeUpstream) included() bool   { f.mu.Lock(); defer f.mu.Unlock(); return f.sawInclude }

const oaUsage = `{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":4}}`

func newFakeUpstream(t *testing.T) *fakeUpstream {
	f := &fakeUpstream{release: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			fmt.Fprint(w, `{"object":"list","data":[{"id":"gpt-4o","object":"model"},{"id":"gpt-4o-mini","object":"model"},{"id":"mystery-model","object":"model"}]}`)
			return
		}
		var req struct {
			Model         string `json:"model"`
			Stream        bool   `json:"stream"`
			MaxTokens     int64  `json:"max_tokens"`
			MaxCompletion int64  `json:"max_completion_tokens"`
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
			Messages []struct {
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		say := ""
		if n := len(req.Messages); n > 0 {
			say = string(req.Messages[n-1].Content)
		}
		f.mu.Lock()
		f.lastMaxToken = max(req.MaxTokens, req.MaxCompletion)
		f.mu.Unlock()
		switch {
		case strings.Contains(say, "silent"):
			time.Sleep(3 * time.Second)
		case strings.Contains(say, "fail"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
			return
		}
		if r.URL.Path == "/v1/messages" {
			if strings.Contains(say, "overload") {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, anthropicStream[:strings.Index(anthropicStream, "event: content_block_stop")])
				fmt.Fprint(w, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")
				return
			}
			if r.Header.Get("x-api-key") != "ak-provider" {
				w.WriteHeader(401)
				return
			}
			if !req.Stream {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":15}}`)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, anthropicStream)
			return
		}
		if r.Header.Get("Authorization") != "Bearer sk-provider" {
			w.WriteHeader(401)
			return
		}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":%s}`, oaUsage)
			return
		}
		f.mu.Lock()
		f.sawInclude = req.StreamOptions.IncludeUsage
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := func(s string) {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", s)
			w.(http.Flusher).Flush()
		}
		chunk("Hel")
		switch {
		case strings.Contains(say, "cut"):
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		case strings.Contains(say, "wait"):
			<-f.release
		case strings.Contains(say, "drip"):
			for i := 0; i < 200; i++ {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
				chunk(".")
			}
		}
		chunk("lo!")
		if req.StreamOptions.IncludeUsage {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":%s}\n\n", oaUsage)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

const anthropicStream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":2000,\"output_tokens\":1}}}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n" +
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n" +
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

type gatewayEnv struct {
	*testServer
	box      *core.KeyBox
	bill     *fakeBilling
	up       *fakeUpstream
	memberID int64
	token    string // the member's personal token
}

func newGatewayEnv(t *testing.T) *gatewayEnv {
	t.Helper()
	return newGatewayEnvWith(t, newFakeBilling(), 1000)
}

// newGatewayEnvWith builds the server with bill as its billing (nil: the domain's own), the two
// fake providers with a timeout of timeoutMS, and a member with a personal token.
func newGatewayEnvWith(t *testing.T, bill *fakeBilling, timeoutMS int64) *gatewayEnv {
	t.Helper()
	box, err := core.NewKeyBox(make([]byte, core.KeyBoxKeySize))
	if err != nil {
		t.Fatal(err)
	}
	var opts []Option
	if bill != nil {
		opts = append(opts, WithGatewayBilling(bill))
	}
	ts := newTestServerWith(t, Config{ProviderKeys: box}, opts...)
	up := newFakeUpstream(t)
	ctx := context.Background()
	owner, err := ts.svc.AuthenticateBearer(ctx, ts.owner)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	// OpenAI: the provider's own model list (gpt-4o, gpt-4o-mini, mystery-model: no price).
	if _, err := ts.svc.CreateAIProvider(ctx, owner, core.AIProviderInput{Name: str("openai"), Kind: str("openai"),
		BaseURL: str(up.srv.URL + "/v1"), APIKey: str("sk-provider"), TimeoutMS: &timeoutMS}, box); err != nil {
		t.Fatal(err)
	}
	models := []string{"claude-sonnet-4-5"}
	if _, err := ts.svc.CreateAIProvider(ctx, owner, core.AIProviderInput{Name: str("anthropic"), Kind: str("anthropic"),
		BaseURL: str(up.srv.URL + "/v1"), APIKey: str("ak-provider"), Models: &models, TimeoutMS: &timeoutMS}, box); err != nil {
		t.Fatal(err)
	}
	id, tok := ts.member("kid@example.org")
	return &gatewayEnv{testServer: ts, box: box, bill: bill, up: up, memberID: id, token: tok}
}

func (g *gatewayEnv) openai(key string, opts ...ooption.RequestOption) openai.Client {
	return openai.NewClient(append([]ooption.RequestOption{ooption.WithBaseURL(g.url + "/v1/"), ooption.WithAPIKey(key), ooption.WithMaxRetries(0)}, opts...)...)
}

func (g *gatewayEnv) anthropic(key string) anthropic.Client {
	return anthropic.NewClient(aoption.WithBaseURL(g.url+"/"), aoption.WithAPIKey(key), aoption.WithMaxRetries(0))
}

func chatParams(say string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(say)}}
}

// TestGatewayOpenAISDK: the official OpenAI SDK, with a member's token, gets plain and streamed
// chats through tokenjar; each request is held for the member (the output cap named on the
// request), then settled once with the provider's usage; the injected include_usage chunk
// reaches only a client that asked for it.
func TestGatewayOpenAISDK(t *testing.T) {
	g := newGatewayEnv(t)
	client := g.openai(g.token)
	ctx := context.Background()

	res, err := client.Chat.Completions.New(ctx, chatParams("Hi"))
	if err != nil || res.Choices[0].Message.Content != "Hello!" || res.Usage.PromptTokens != 12 {
		t.Fatalf("plain: %v %+v", err, res)
	}
	g.bill.waitEnd(t)
	call := g.bill.lastCall()
	if call.MemberID != g.memberID || call.AppID != 0 || call.Delegation != 0 || call.Model != "gpt-4o" || call.Provider != "openai" ||
		call.UsageType != "token_usage" || call.Hold.InputTokens <= 0 || call.Hold.OutputTokens <= 0 || call.Price.Output == 0 {
		t.Errorf("hold asked %+v", call)
	}
	if g.up.maxTokens() != call.Hold.OutputTokens {
		t.Errorf("the provider was sent cap %d, the hold covers %d", g.up.maxTokens(), call.Hold.OutputTokens)
	}
	if u := g.bill.lastUsage(); u.Estimated || u.Usage.InputTokens != 12 || u.Usage.CachedInputTokens != 4 || u.Usage.OutputTokens != 2 {
		t.Errorf("plain settled %+v", u)
	}

	for _, asks := range []bool{false, true} {
		p := chatParams("Hi")
		if asks {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		text, sawUsage := "", false
		for stream.Next() {
			ch := stream.Current()
			if len(ch.Choices) > 0 {
				text += ch.Choices[0].Delta.Content
			}
			sawUsage = sawUsage || ch.Usage.TotalTokens > 0
		}
		if err := stream.Err(); err != nil || text != "Hello!" {
			t.Fatalf("asks=%v: %v %q", asks, err, text)
		}
		g.bill.waitEnd(t)
		if !g.up.included() || sawUsage != asks {
			t.Errorf("asks=%v: injected %v, client saw usage %v", asks, g.up.included(), sawUsage)
		}
		if u := g.bill.lastUsage(); u.Estimated || u.Usage.InputTokens != 12 || u.Usage.OutputTokens != 2 {
			t.Errorf("asks=%v: settled %+v", asks, u)
		}
	}
	if h, s, r := g.bill.counts(); h != 3 || s != 3 || r != 0 {
		t.Errorf("holds %d, settles %d, releases %d", h, s, r)
	}

	// A provider error before the first byte is passed on; the hold is released, nothing settled.
	_, err = client.Chat.Completions.New(ctx, chatParams("fail"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Message != "slow down" {
		t.Errorf("provider error: %v", err)
	}
	g.bill.waitEnd(t)
	if h, s, r := g.bill.counts(); h != 4 || s != 3 || r != 1 {
		t.Errorf("after a provider error: holds %d, settles %d, releases %d", h, s, r)
	}
}

// TestGatewayAnthropicSDK: the official Anthropic SDK (x-api-key) gets plain and streamed
// messages; the stream is metered from message_start plus the last message_delta.
func TestGatewayAnthropicSDK(t *testing.T) {
	g := newGatewayEnv(t)
	client := g.anthropic(g.token)
	ctx := context.Background()
	params := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}}
	want := core.ModelUsage{InputTokens: 2125, CachedInputTokens: 2000, CacheWriteTokens: 100, OutputTokens: 15}

	msg, err := client.Messages.New(ctx, params)
	if err != nil || msg.Content[0].Text != "Hello" {
		t.Fatalf("plain: %v %+v", err, msg)
	}
	g.bill.waitEnd(t)
	if u := g.bill.lastUsage(); u.Usage != want || u.Estimated {
		t.Errorf("plain settled %+v", u)
	}
	if c := g.bill.lastCall(); c.Hold.OutputTokens != 100 || c.Provider != "anthropic" || c.MinOutputTokens != 100 {
		t.Errorf("hold asked %+v", c)
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
	g.bill.waitEnd(t)
	if u := g.bill.lastUsage(); u.Usage != want || u.Estimated {
		t.Errorf("stream settled %+v", u)
	}

	// The domain's 402 reaches the SDK as Anthropic's billing_error with the domain's words.
	g.bill.refuse = "Your Homework allowance from Mum is used up until tomorrow 00:00."
	_, err = client.Messages.New(ctx, params)
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 402 || ae.Message != g.bill.refuse || string(ae.Type()) != "billing_error" {
		t.Errorf("402: %v", err)
	}
	oc := g.openai(g.token)
	_, err = oc.Chat.Completions.New(ctx, chatParams("Hi"))
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 402 || oe.Code != "insufficient_quota" || oe.Message != g.bill.refuse {
		t.Errorf("402 openai: %v", err)
	}
}

// TestGatewayStreamsIncrementally: the first chunk reaches the client while the provider still
// holds the rest back, so the gateway does not buffer the stream.
func TestGatewayStreamsIncrementally(t *testing.T) {
	g := newGatewayEnv(t)
	req, _ := http.NewRequest("POST", g.url+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"wait"}]}`))
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, `"Hel"`) {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(5 * time.Second):
		close(g.up.release)
		t.Fatal("the first chunk did not arrive before the provider sent the rest")
	}
	close(g.up.release)
	rest, _ := io.ReadAll(r)
	if !strings.Contains(string(rest), `"lo!"`) || !strings.Contains(string(rest), "[DONE]") || strings.Contains(string(rest), `"usage"`) {
		t.Errorf("rest %q", rest)
	}
	g.bill.waitEnd(t)
}

// TestGatewayFailures: a stream cut before its usage settles an estimate (flagged), with an error
// event to the client; a provider silent past its timeout is 504 with the hold released.
func TestGatewayFailures(t *testing.T) {
	g := newGatewayEnv(t)
	status, body := g.send(http.DefaultClient, "POST", "/v1/chat/completions", g.token,
		`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"cut"}]}`, nil)
	if status != 200 || !strings.Contains(string(body), `"Hel"`) || !strings.Contains(string(body), "bad_gateway") {
		t.Errorf("cut stream: %d %s", status, body)
	}
	g.bill.waitEnd(t)
	if u := g.bill.lastUsage(); !u.Estimated || u.Usage.OutputTokens <= 0 || u.Usage.InputTokens != g.bill.lastCall().Hold.InputTokens {
		t.Errorf("cut stream settled %+v", u)
	}

	status, body = g.send(http.DefaultClient, "POST", "/v1/messages", "", `{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":"silent"}]}`,
		map[string]string{"x-api-key": g.token})
	if status != 504 || !strings.Contains(string(body), `"timeout_error"`) {
		t.Errorf("silent provider: %d %s", status, body)
	}
	g.bill.waitEnd(t)
	if h, s, r := g.bill.counts(); h != 2 || s != 1 || r != 1 {
		t.Errorf("holds %d, settles %d, releases %d", h, s, r)
	}
}

// TestGatewayBadInputs: each bad request gets its status and an error in the route's wire format,
// and never reaches billing.
func TestGatewayBadInputs(t *testing.T) {
	g := newGatewayEnv(t)
	ctx := context.Background()
	// A revoked token.
	_, revoked := g.member("gone@example.org")
	p, _ := g.svc.AuthenticateBearer(ctx, revoked)
	if err := g.svc.RevokeToken(ctx, p, p.KeyID); err != nil {
		t.Fatal(err)
	}
	// A member limited to gpt-4o-mini, with a token.
	limitedID, limited := g.member("limited@example.org")
	g.do("PATCH", "/api/v1/members/"+itoa(limitedID), g.owner, map[string]any{"allowedModels": []string{"gpt-4o-m*"}}, 200, nil)
	chat := `{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}`
	cases := []struct {
		name, path, key, body string
		header                map[string]string
		status                int
		errType               string // OpenAI error.code, or Anthropic error.type
	}{
		{"no key", "/v1/chat/completions", "", chat, nil, 401, "invalid_api_key"},
		{"no key, anthropic", "/v1/messages", "", `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}`, nil, 401, "authentication_error"},
		{"revoked key", "/v1/chat/completions", revoked, chat, nil, 401, "invalid_api_key"},
		{"unknown model", "/v1/chat/completions", g.token, `{"model":"gpt-9","messages":[]}`, nil, 404, "model_not_found"},
		{"model with no price", "/v1/chat/completions", g.token, `{"model":"mystery-model","messages":[]}`, nil, 404, "model_not_found"},
		{"model the member may not use", "/v1/chat/completions", limited, chat, nil, 403, "model_not_allowed"},
		{"malformed JSON", "/v1/chat/completions", g.token, `{"model":"gpt-4o",`, nil, 400, "invalid_request"},
		{"malformed JSON, anthropic", "/v1/messages", g.token, `[1]`, nil, 400, "invalid_request_error"},
		{"app key not allowed to name members", "/v1/chat/completions", g.appKey, chat, map[string]string{"X-OpenWebUI-User-Email": "kid@example.org"}, 403, "permission_denied"},
		{"app key not allowed, naming no one", "/v1/messages", g.appKey, `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}`, nil, 403, "permission_error"},
		{"token naming another member", "/v1/chat/completions", g.token, chat, map[string]string{"X-Tokenjar-User": "owner@example.org"}, 403, "permission_denied"},
		{"OpenAI model on the Anthropic route", "/v1/messages", g.token, `{"model":"gpt-4o","max_tokens":5,"messages":[]}`, nil, 404, "not_found_error"},
		{"unknown /v1 route", "/v1/completions", g.token, chat, nil, 404, "not_found"},
		{"compressed body", "/v1/chat/completions", g.token, chat, map[string]string{"Content-Encoding": "gzip"}, 415, "invalid_request"},
	}
	for _, c := range cases {
		status, body := g.send(http.DefaultClient, "POST", c.path, c.key, c.body, c.header)
		var oa struct {
			Error struct{ Code, Type, Message string }
		}
		var an struct {
			Type  string
			Error struct{ Type, Message string }
		}
		got := ""
		if strings.HasPrefix(c.path, "/v1/messages") {
			json.Unmarshal(body, &an)
			got = an.Error.Type
			if an.Type != "error" || an.Error.Message == "" {
				got = "not Anthropic's shape"
			}
		} else {
			json.Unmarshal(body, &oa)
			got = oa.Error.Code
			if oa.Error.Message == "" {
				got = "not OpenAI's shape"
			}
		}
		if status != c.status || got != c.errType {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, body, c.status, c.errType)
		}
	}
	if h, s, r := g.bill.counts(); h+s+r != 0 {
		t.Errorf("bad inputs reached billing: %d holds, %d settles, %d releases", h, s, r)
	}
	if n := g.countEvents(); n != 0 {
		t.Errorf("%d usage events written", n)
	}
	if strings.Contains(g.logs.String(), "sk-provider") || strings.Contains(g.logs.String(), g.token) {
		t.Error("a key reached the log")
	}
}

// TestGatewayBodyLimit: a gateway body may reach GatewayBodyLimit only with a valid key (the
// limit is raised once the head is read, so a stranger's slow body still costs at most
// BodyLimit); past either limit the answer is 413 in the route's wire format, before the body is
// read, and billing is never asked.
func TestGatewayBodyLimit(t *testing.T) {
	g := newGatewayEnv(t)
	answer := func(head string) string {
		c, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, head)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	for _, tc := range []struct {
		name, key, path string
		size            int
		want            string // "" : the server waits for the body
	}{
		{"no key, 100 KiB", "", "/v1/chat/completions", 100 << 10, `"code":"request_too_large"`},
		{"bad key, 100 KiB", "tj_pat_nope", "/v1/messages", 100 << 10, `"type":"request_too_large"`},
		{"member, 1 MiB", g.token, "/v1/chat/completions", 1 << 20, ""},
		{"member, over 4 MiB", g.token, "/v1/chat/completions", GatewayBodyLimit + 1, `"code":"request_too_large"`},
		{"member, over 4 MiB, anthropic", g.token, "/v1/messages", GatewayBodyLimit + 1, `"type":"request_too_large"},"type":"error"}`},
	} {
		got := answer(declared("POST", tc.path, tc.key, tc.size))
		if tc.want == "" && got != "" || tc.want != "" && (!strings.HasPrefix(got, "HTTP/1.1 413") || !strings.Contains(got, tc.want)) {
			t.Errorf("%s: %q", tc.name, got)
		}
	}
	if h, _, _ := g.bill.counts(); h != 0 {
		t.Errorf("%d holds", h)
	}
}

// TestGatewayOpenWebUI: an app key an admin allowed to name members bills the member Open WebUI
// names, with the app recorded; without a name, or naming no member, it is refused.
func TestGatewayOpenWebUI(t *testing.T) {
	g := newGatewayEnv(t)
	var app struct {
		ID           int64
		Key          string
		NamesMembers bool
	}
	g.do("POST", "/api/v1/apps", g.owner, map[string]any{"name": "Open WebUI", "namesMembers": true}, 201, &app)
	if !app.NamesMembers {
		t.Fatal("namesMembers not shown")
	}
	webui := g.openai(app.Key, ooption.WithHeader("X-OpenWebUI-User-Email", "Kid@example.org"))
	if _, err := webui.Chat.Completions.New(context.Background(), chatParams("Hi")); err != nil {
		t.Fatal(err)
	}
	g.bill.waitEnd(t)
	if c := g.bill.lastCall(); c.MemberID != g.memberID || c.AppID != app.ID {
		t.Errorf("billed member %d app %d, want %d %d", c.MemberID, c.AppID, g.memberID, app.ID)
	}
	// By member id, with tokenjar's header.
	status, body := g.send(http.DefaultClient, "POST", "/v1/chat/completions", app.Key, `{"model":"gpt-4o","messages":[]}`,
		map[string]string{"X-Tokenjar-User": itoa(g.memberID)})
	if status != 200 {
		t.Fatalf("by id: %d %s", status, body)
	}
	g.bill.waitEnd(t)
	for _, h := range []map[string]string{nil, {"X-OpenWebUI-User-Email": "nobody@example.org"}} {
		status, body := g.send(http.DefaultClient, "POST", "/v1/chat/completions", app.Key, `{"model":"gpt-4o","messages":[]}`, h)
		if status != 401 || !strings.Contains(string(body), "invalid_api_key") {
			t.Errorf("%v: %d %s", h, status, body)
		}
	}
	// Turned off again: refused.
	g.do("PATCH", "/api/v1/apps/"+itoa(app.ID), g.owner, map[string]any{"namesMembers": false}, 200, nil)
	status, _ = g.send(http.DefaultClient, "POST", "/v1/chat/completions", app.Key, `{"model":"gpt-4o","messages":[]}`,
		map[string]string{"X-OpenWebUI-User-Email": "kid@example.org"})
	if status != 403 {
		t.Errorf("after namesMembers false: %d", status)
	}
	if h, _, _ := g.bill.counts(); h != 2 {
		t.Errorf("%d holds, want 2", h)
	}
}

// TestGatewayModelsAndRate: GET /v1/models lists only priced models the caller may use; the
// per-member requests-per-minute limit answers 429 with Retry-After.
func TestGatewayModelsAndRate(t *testing.T) {
	g := newGatewayEnv(t)
	list := func(tok string) []string {
		var out struct {
			Object string
			Data   []struct{ ID string }
		}
		g.do("GET", "/v1/models", tok, nil, 200, &out)
		ids := []string{}
		for _, m := range out.Data {
			ids = append(ids, m.ID)
		}
		return ids
	}
	if got := strings.Join(list(g.token), ","); got != "claude-sonnet-4-5,gpt-4o,gpt-4o-mini" {
		t.Errorf("models %s", got)
	}
	g.do("PATCH", "/api/v1/members/"+itoa(g.memberID), g.owner, map[string]any{"allowedModels": []string{"claude-*"}, "requestsPerMinute": 2}, 200, nil)
	if got := strings.Join(list(g.token), ","); got != "claude-sonnet-4-5" {
		t.Errorf("limited models %s", got)
	}
	list(g.token) // the second request counted in this minute; the third is refused
	req, _ := http.NewRequest("GET", g.url+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("rate limit: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestGatewayClientLeaves: a client that leaves mid-stream is still charged the provider's usage
// when it arrives; when it does not arrive within the grace (30 s; shortened here), the upstream
// request is ended and an estimate, flagged, is settled.
func TestGatewayClientLeaves(t *testing.T) {
	g := newGatewayEnv(t)
	open := func(say string) {
		req, _ := http.NewRequest("POST", g.url+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"`+say+`"}]}`))
		req.Header.Set("Authorization", "Bearer "+g.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		if !strings.Contains(line, `"Hel"`) {
			t.Fatalf("first line %q", line)
		}
		resp.Body.Close() // unread: the connection is closed
	}
	open("wait")
	close(g.up.release)
	g.bill.waitEnd(t)
	if u := g.bill.lastUsage(); u.Estimated || u.Usage.InputTokens != 12 || u.Usage.OutputTokens != 2 {
		t.Errorf("left, usage came: settled %+v", u)
	}

	defer func(d time.Duration) { clientGoneGrace = d }(clientGoneGrace)
	clientGoneGrace = 200 * time.Millisecond
	start := time.Now()
	open("drip") // 200 chunks over 10 s, the usage after them
	g.bill.waitEnd(t)
	if u := g.bill.lastUsage(); !u.Estimated || u.Usage.OutputTokens <= 0 || time.Since(start) > 5*time.Second {
		t.Errorf("left, no usage within the grace: settled %+v after %v", u, time.Since(start))
	}
	if h, s, r := g.bill.counts(); h != 2 || s != 2 || r != 0 {
		t.Errorf("holds %d, settles %d, releases %d", h, s, r)
	}
}

// TestGatewayMidStream: a provider's error event mid-stream reaches the client as the provider sent
// it (no second error added) and the request is settled once; a stream that falls silent past the
// provider's timeout ends with a timeout event and an estimate.
func TestGatewayMidStream(t *testing.T) {
	g := newGatewayEnv(t)
	status, body := g.send(http.DefaultClient, "POST", "/v1/messages", g.token,
		`{"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"overload"}]}`, nil)
	if status != 200 || !strings.Contains(string(body), "overloaded_error") || strings.Count(string(body), "event: error") != 1 {
		t.Errorf("error mid-stream: %d %s", status, body)
	}
	g.bill.waitEnd(t)

	status, body = g.send(http.DefaultClient, "POST", "/v1/chat/completions", g.token,
		`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"wait"}]}`, nil)
	close(g.up.release)
	if status != 200 || !strings.Contains(string(body), `"Hel"`) || !strings.Contains(string(body), `"code":"timeout"`) {
		t.Errorf("silent mid-stream: %d %s", status, body)
	}
	g.bill.waitEnd(t)
	if u := g.bill.lastUsage(); !u.Estimated {
		t.Errorf("silent mid-stream settled %+v", u)
	}
	if h, s, r := g.bill.counts(); h != 2 || s != 2 || r != 0 {
		t.Errorf("holds %d, settles %d, releases %d", h, s, r)
	}
}

// TestGatewayAllowanceToken: a token bound to an allowance bills that allowance and is limited to
// its models (globs), in requests and in GET /v1/models.
func TestGatewayAllowanceToken(t *testing.T) {
	g := newGatewayEnv(t)
	var d struct{ ID int64 }
	g.do("POST", "/api/v1/delegations", g.owner, map[string]any{"granteeId": g.memberID, "credits": 100, "period": "day", "models": []string{"gpt-4o-mi*"}}, 201, &d)
	status, b := g.sendBrowser(g.browser("kid@example.org"), "POST", "/api/v1/tokens", map[string]any{"name": "laptop", "delegationId": d.ID})
	var tok struct{ Token string }
	if status != 201 || json.Unmarshal(b, &tok) != nil {
		t.Fatalf("token: %d %s", status, b)
	}
	status, b = g.send(http.DefaultClient, "POST", "/v1/chat/completions", tok.Token, `{"model":"gpt-4o","messages":[]}`, nil)
	if status != 403 {
		t.Errorf("excluded model: %d %s", status, b)
	}
	status, b = g.send(http.DefaultClient, "POST", "/v1/chat/completions", tok.Token, `{"model":"gpt-4o-mini","messages":[]}`, nil)
	if status != 200 {
		t.Fatalf("allowed model: %d %s", status, b)
	}
	g.bill.waitEnd(t)
	if c := g.bill.lastCall(); c.Delegation != d.ID || c.MemberID != g.memberID {
		t.Errorf("billed %+v", c)
	}
	var list struct{ Data []struct{ ID string } }
	g.do("GET", "/v1/models", tok.Token, nil, 200, &list)
	if len(list.Data) != 1 || list.Data[0].ID != "gpt-4o-mini" {
		t.Errorf("models %+v", list.Data)
	}
}

// TestGatewayLoweredCapAndDownProvider: when the domain lowers the hold's output cap, the provider
// is sent the lowered cap; a provider that cannot be reached is 502 with the hold released, and a
// free provider's model needs no price.
func TestGatewayLoweredCapAndDownProvider(t *testing.T) {
	g := newGatewayEnv(t)
	g.bill.lowerTo = 300
	status, b := g.send(http.DefaultClient, "POST", "/v1/messages", g.token, `{"model":"claude-sonnet-4-5","max_tokens":1000,"messages":[{"role":"user","content":"Hi"}]}`, nil)
	if status != 200 || g.up.maxTokens() != 300 {
		t.Errorf("lowered: %d %s, provider saw max_tokens %d", status, b, g.up.maxTokens())
	}
	g.bill.waitEnd(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/v1"
	ln.Close()
	owner, _ := g.svc.AuthenticateBearer(context.Background(), g.owner)
	str := func(s string) *string { return &s }
	free, models := true, []string{"llama-local"}
	if _, err := g.svc.CreateAIProvider(context.Background(), owner, core.AIProviderInput{Name: str("ollama"), Kind: str("openai-compatible"),
		BaseURL: str(down), Models: &models, Free: &free}, g.box); err != nil {
		t.Fatal(err)
	}
	status, b = g.send(http.DefaultClient, "POST", "/v1/chat/completions", g.token, `{"model":"llama-local","messages":[{"role":"user","content":"Hi"}]}`, nil)
	if status != 502 || !strings.Contains(string(b), `"code":"bad_gateway"`) {
		t.Errorf("down provider: %d %s", status, b)
	}
	g.bill.waitEnd(t)
	if c := g.bill.lastCall(); !c.Free || c.Provider != "ollama" {
		t.Errorf("free call %+v", c)
	}
	if h, s, r := g.bill.counts(); h != 2 || s != 1 || r != 1 {
		t.Errorf("holds %d, settles %d, releases %d", h, s, r)
	}
}

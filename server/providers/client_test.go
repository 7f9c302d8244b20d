package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenjar/server/wire"
)

type seen struct {
	path, auth, xKey, version, beta, body string
}

// fake is a provider that records what it got and answers with h.
func fake(t *testing.T, got *seen, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if got != nil {
			*got = seen{r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("x-api-key"),
				r.Header.Get("anthropic-version"), r.Header.Get("anthropic-beta"), string(b)}
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func client(t *testing.T, kind Kind, base, key string, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(Config{Name: "p", Kind: kind, BaseURL: base, APIKey: key, Timeout: timeout}, NewTransport())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlainRequestPerKind(t *testing.T) {
	cases := []struct {
		kind             Kind
		e                wire.Endpoint
		key              string
		inHdr            http.Header
		path, auth, xKey string
		version, beta    string
	}{
		{OpenAI, wire.ChatCompletions, "sk-1", nil, "/v1/chat/completions", "Bearer sk-1", "", "", ""},
		{OpenAI, wire.Embeddings, "sk-1", http.Header{"Anthropic-Beta": {"x"}}, "/v1/embeddings", "Bearer sk-1", "", "", ""},
		{Anthropic, wire.Messages, "ak-2", nil, "/v1/messages", "", "ak-2", DefaultAnthropicVersion, ""},
		{Anthropic, wire.Messages, "ak-2", http.Header{"Anthropic-Version": {"2024-01-01"}, "Anthropic-Beta": {"prompt-caching-2024-07-31"}},
			"/v1/messages", "", "ak-2", "2024-01-01", "prompt-caching-2024-07-31"},
		{OpenAICompatible, wire.Responses, "", nil, "/v1/responses", "", "", "", ""},
	}
	for _, c := range cases {
		var got seen
		srv := fake(t, &got, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"usage":{"prompt_tokens":3,"completion_tokens":4}}`)
		})
		cl := client(t, c.kind, srv.URL+"/v1/", c.key, time.Second)
		resp, err := cl.Do(context.Background(), c.e, []byte(`{"model":"m"}`), c.inHdr)
		if err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !resp.OK() || !strings.Contains(string(b), "prompt_tokens") {
			t.Errorf("%s: %d %s", c.kind, resp.Status, b)
		}
		want := seen{c.path, c.auth, c.xKey, c.version, c.beta, `{"model":"m"}`}
		if got != want {
			t.Errorf("%s: provider saw %+v, want %+v", c.kind, got, want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{Kind: "gemini"}, nil); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := New(Config{Kind: OpenAICompatible}, nil); err == nil {
		t.Error("openai-compatible without base URL accepted")
	}
	c, err := New(Config{Kind: Anthropic}, nil)
	if err != nil || c.base != "https://api.anthropic.com/v1" || c.InjectIncludeUsage() {
		t.Errorf("anthropic defaults: %v %q", err, c.base)
	}
	c, _ = New(Config{Kind: OpenAICompatible, BaseURL: "http://localhost:11434/v1", NoIncludeUsage: true}, nil)
	if c.InjectIncludeUsage() {
		t.Error("the per-provider switch did not stop include_usage")
	}
}

func TestProviderErrorBeforeFirstBytePassesOn(t *testing.T) {
	srv := fake(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(429)
		fmt.Fprint(w, `{"error":{"type":"requests","message":"slow down"}}`)
	})
	resp, err := client(t, OpenAI, srv.URL, "k", time.Second).Do(context.Background(), wire.ChatCompletions, []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := resp.ErrorBody()
	if resp.OK() || resp.Status != 429 || resp.Header.Get("Retry-After") != "3" || !strings.Contains(string(b), "slow down") {
		t.Errorf("%d %v %s", resp.Status, resp.Header, b)
	}
}

func TestUnreachableProvider(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := client(t, OpenAI, url, "sk-secret", time.Second).Do(context.Background(), wire.ChatCompletions, []byte(`{}`), nil)
	var ue *UnreachableError
	if !errors.As(err, &ue) || IsTimeout(err) || strings.Contains(err.Error(), "sk-secret") {
		t.Errorf("err = %v", err)
	}
}

// TestStreamPassesThroughUnbuffered: the first event reaches the caller while the provider is still
// holding the rest back, which a buffering client could not do.
func TestStreamPassesThroughUnbuffered(t *testing.T) {
	release := make(chan struct{})
	srv := fake(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n")
	})
	resp, err := client(t, OpenAI, srv.URL, "k", 5*time.Second).Do(context.Background(), wire.ChatCompletions, []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := wire.NewSSEReader(resp.Body)
	ev, err := r.Next()
	if err != nil || !strings.Contains(string(ev.Data), "Hi") {
		t.Fatalf("first event %q %v", ev.Data, err)
	}
	close(release)
	m := wire.NewStreamMeter(wire.ChatCompletions, true)
	var out strings.Builder
	res := wire.Relay(&out, nil, resp.Body, m, nil)
	u, ok := m.Usage()
	if res.UpstreamErr != nil || !ok || u.InputTokens != 5 || !m.Complete() || strings.Contains(out.String(), "usage") {
		t.Errorf("rest of stream: %+v %v %v out=%q", u, ok, res.UpstreamErr, out.String())
	}
}

func TestStreamCutMidway(t *testing.T) {
	srv := fake(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n")
		w.(http.Flusher).Flush()
		conn, buf, _ := w.(http.Hijacker).Hijack()
		buf.Flush()
		conn.Close() // the provider dies mid-stream
	})
	resp, err := client(t, Anthropic, srv.URL, "k", 5*time.Second).Do(context.Background(), wire.Messages, []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := wire.NewStreamMeter(wire.Messages, false)
	res := wire.Relay(io.Discard, nil, resp.Body, m, nil)
	u, _ := m.Usage()
	if res.UpstreamErr == nil || m.Complete() || u.InputTokens != 9 || IsTimeout(res.UpstreamErr) {
		t.Errorf("cut stream: err=%v complete=%v usage=%+v", res.UpstreamErr, m.Complete(), u)
	}
}

func stall(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func TestSilentProviderTimesOutBeforeFirstByte(t *testing.T) {
	srv := fake(t, nil, stall)
	start := time.Now()
	_, err := client(t, OpenAI, srv.URL, "k", 150*time.Millisecond).Do(context.Background(), wire.ChatCompletions, []byte(`{}`), nil)
	var te *TimeoutError
	if !errors.As(err, &te) || te.MidStream || time.Since(start) > 3*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
}

func TestSlowStreamTimesOutMidStream(t *testing.T) {
	srv := fake(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ { // a stream that keeps talking within the timeout is fine
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
		stall(w, r)
	})
	resp, err := client(t, OpenAI, srv.URL, "k", 400*time.Millisecond).Do(context.Background(), wire.ChatCompletions, []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := wire.NewStreamMeter(wire.ChatCompletions, true)
	res := wire.Relay(io.Discard, nil, resp.Body, m, nil)
	var te *TimeoutError
	if !errors.As(res.UpstreamErr, &te) || !te.MidStream || m.StreamedTextBytes() != 3 {
		t.Errorf("err=%v text=%d", res.UpstreamErr, m.StreamedTextBytes())
	}
}

func TestCallerCancelIsNotATimeout(t *testing.T) {
	srv := fake(t, nil, stall)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := client(t, OpenAI, srv.URL, "k", 5*time.Second).Do(ctx, wire.ChatCompletions, []byte(`{}`), nil)
	if !errors.Is(err, context.Canceled) || IsTimeout(err) {
		t.Errorf("err = %v", err)
	}
}

// TestDownProviderDoesNotSlowOthers: with many requests hanging on a silent provider, a request to
// another provider over the same shared transport is answered at once.
func TestDownProviderDoesNotSlowOthers(t *testing.T) {
	down := fake(t, nil, stall)
	up := fake(t, nil, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
	rt := NewTransport()
	dc, _ := New(Config{Name: "down", Kind: OpenAI, BaseURL: down.URL, Timeout: 2 * time.Second}, rt)
	uc, _ := New(Config{Name: "up", Kind: OpenAI, BaseURL: up.URL, Timeout: 2 * time.Second}, rt)
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := dc.Do(context.Background(), wire.ChatCompletions, []byte(`{}`), nil); err == nil {
				resp.Body.Close()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	resp, err := uc.Do(context.Background(), wire.ChatCompletions, []byte(`{}`), nil)
	took := time.Since(start)
	if err != nil || !resp.OK() || took > 500*time.Millisecond {
		t.Errorf("healthy provider: err=%v took %v", err, took)
	}
	if resp != nil {
		resp.Body.Close()
	}
	wg.Wait()
}

func TestListModels(t *testing.T) {
	srv := fake(t, nil, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[{"id":"llama3.2"},{"id":"gpt-oss:20b"}]}`)
	})
	ids, err := client(t, OpenAICompatible, srv.URL+"/v1", "", time.Second).ListModels(context.Background())
	if err != nil || strings.Join(ids, ",") != "gpt-oss:20b,llama3.2" {
		t.Errorf("openai-compatible: %v %v", ids, err)
	}
	var pages []string
	asrv := fake(t, nil, func(w http.ResponseWriter, r *http.Request) {
		pages = append(pages, r.URL.RawQuery)
		if r.Header.Get("x-api-key") != "ak" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
			return
		}
		if r.URL.Query().Get("after_id") == "" {
			fmt.Fprint(w, `{"data":[{"id":"claude-sonnet-4-5-20250929"}],"has_more":true,"last_id":"claude-sonnet-4-5-20250929"}`)
			return
		}
		fmt.Fprint(w, `{"data":[{"id":"claude-haiku-4-5-20251001"}],"has_more":false,"last_id":"claude-haiku-4-5-20251001"}`)
	})
	ids, err = client(t, Anthropic, asrv.URL+"/v1", "ak", time.Second).ListModels(context.Background())
	if err != nil || len(ids) != 2 || len(pages) != 2 || !strings.Contains(pages[1], "after_id=claude-sonnet") {
		t.Errorf("anthropic pages: %v %v %v", ids, pages, err)
	}
	_, err = client(t, Anthropic, asrv.URL+"/v1", "wrong", time.Second).ListModels(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 401 || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad key: %v", err)
	}
}

// TestSlowClientIsNotASilentProvider: time the relay spends blocked on the client does not count
// against the provider's timeout.
func TestSlowClientIsNotASilentProvider(t *testing.T) {
	srv := fake(t, nil, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond)
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n")
	})
	resp, err := client(t, OpenAI, srv.URL, "k", 400*time.Millisecond).Do(context.Background(), wire.ChatCompletions, []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	slow := writerFunc(func(p []byte) (int, error) { time.Sleep(500 * time.Millisecond); return len(p), nil })
	m := wire.NewStreamMeter(wire.ChatCompletions, false)
	res := wire.Relay(slow, nil, resp.Body, m, nil)
	if res.UpstreamErr != nil || !m.Complete() {
		t.Errorf("err=%v complete=%v", res.UpstreamErr, m.Complete())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"tokenjar/server/wire"
)

// Kind is a provider's API family.
type Kind string

const (
	OpenAI           Kind = "openai"
	Anthropic        Kind = "anthropic"
	OpenAICompatible Kind = "openai-compatible" // Ollama, vLLM, llama.cpp, LM Studio, …
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == OpenAI || k == Anthropic || k == OpenAICompatible }

// DefaultAnthropicVersion is sent as anthropic-version when the client sent none.
const DefaultAnthropicVersion = "2023-06-01"

// DefaultTimeout is how long a provider may stay silent when its config names no timeout.
const DefaultTimeout = 60 * time.Second

// Config is one provider as the admin set it up. APIKey is the decrypted key; it is only ever put in
// the auth header of upstream requests, never in an error or a log line.
type Config struct {
	Name    string
	Kind    Kind
	BaseURL string // by convention ends in /v1 (https://api.openai.com/v1, http://localhost:11434/v1)
	APIKey  string
	// NoIncludeUsage: the provider refuses stream_options, so the gateway must not inject it.
	NoIncludeUsage bool
	// Timeout: how long the provider may stay silent, before its reply and between stream reads.
	Timeout time.Duration
}

// DefaultBaseURL is the base URL of a kind when the admin gave none ("" for openai-compatible).
func DefaultBaseURL(k Kind) string {
	switch k {
	case OpenAI:
		return "https://api.openai.com/v1"
	case Anthropic:
		return "https://api.anthropic.com/v1"
	}
	return ""
}

// Client sends requests to one provider.
type Client struct {
	cfg  Config
	base string
	hc   *http.Client
}

// New makes a client for cfg over transport rt (nil: Shared).
func New(cfg Config, rt http.RoundTripper) (*Client, error) {
	if !cfg.Kind.Valid() {
		return nil, fmt.Errorf("providers: unknown kind %q", cfg.Kind)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL(cfg.Kind)
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("providers: base URL must start with http:// or https://")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if rt == nil {
		rt = Shared
	}
	// No client-wide timeout: a stream may rightly last many minutes; silence is what times out.
	return &Client{cfg: cfg, base: base, hc: &http.Client{Transport: rt}}, nil
}

// Name is the provider's name.
func (c *Client) Name() string { return c.cfg.Name }

// Kind is the provider's kind.
func (c *Client) Kind() Kind { return c.cfg.Kind }

// InjectIncludeUsage reports whether the gateway should add stream_options.include_usage to OpenAI
// chat streams sent to this provider.
func (c *Client) InjectIncludeUsage() bool { return !c.cfg.NoIncludeUsage && c.cfg.Kind != Anthropic }

// Response is a provider's reply. Body streams as it arrives and must be closed; reading it returns a
// *TimeoutError when the provider falls silent for longer than its timeout.
type Response struct {
	Status int
	Header http.Header
	Body   io.ReadCloser
}

// OK reports a 2xx reply. Any other reply is the provider's error, to pass on with nothing charged.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// MaxErrorBody bounds the provider error body the gateway reads to pass on.
const MaxErrorBody = 64 << 10

// ErrorBody reads a non-2xx reply's body (at most MaxErrorBody) and closes it, for passing the
// provider's error on to the client.
func (r *Response) ErrorBody() []byte {
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, MaxErrorBody))
	return b
}

// forwardHeaders are client headers passed on to the provider (Anthropic's versioning and betas).
var forwardHeaders = []string{"anthropic-version", "anthropic-beta"}

// Do sends body to endpoint e and returns as soon as the reply's headers arrive. in carries the
// client's headers to pass on (may be nil). Cancelling ctx ends the request and its body; the handler
// does so 30 s after a client left mid-stream.
func (c *Client) Do(ctx context.Context, e wire.Endpoint, body []byte, in http.Header) (*Response, error) {
	req, cancel, err := c.newRequest(ctx, http.MethodPost, e.Path(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range forwardHeaders {
		if v := in.Values(h); len(v) > 0 && c.cfg.Kind == Anthropic {
			req.Header[http.CanonicalHeaderKey(h)] = v
		}
	}
	return c.send(req, cancel)
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("providers: %s: bad request URL", c.cfg.Name)
	}
	switch c.cfg.Kind {
	case Anthropic:
		req.Header.Set("x-api-key", c.cfg.APIKey)
		req.Header.Set("anthropic-version", DefaultAnthropicVersion)
	default:
		if c.cfg.APIKey != "" { // a local server may need none
			req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
		}
	}
	return req, cancel, nil
}

// send runs req under the watchdog and hands back the reply with its body still streaming.
func (c *Client) send(req *http.Request, cancel context.CancelFunc) (*Response, error) {
	w := newWatchdog(c.cfg.Timeout, cancel)
	resp, err := c.hc.Do(req)
	if err != nil {
		w.stop()
		cancel()
		if w.didFire() {
			return nil, &TimeoutError{Provider: c.cfg.Name, After: c.cfg.Timeout}
		}
		if ctxErr := req.Context().Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, ctxErr // the caller cancelled
		}
		return nil, &UnreachableError{Provider: c.cfg.Name, Err: scrub(err)}
	}
	w.stop() // the headers came; from now on the clock runs only while the body is read
	return &Response{Status: resp.StatusCode, Header: resp.Header,
		Body: &body{rc: resp.Body, w: w, cancel: cancel, provider: c.cfg.Name}}, nil
}

// scrub drops the URL from a transport error (a base URL could carry credentials in its userinfo).
func scrub(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}

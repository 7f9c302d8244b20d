package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
)

// Request is a gateway request read just enough to meter and limit it. Every field of the body is kept
// (unknown ones included) so Body forwards what the client sent, with only the rewrites asked for.
type Request struct {
	Endpoint Endpoint
	Model    string
	Stream   bool
	// MaxTokens is the client's output cap (max_completion_tokens or max_tokens for chat,
	// max_output_tokens for responses, max_tokens for messages); 0 when the client named none.
	MaxTokens int64
	// MaxTokensSet is true when the client named a cap, even 0 (Anthropic's max_tokens 0 only
	// warms the prompt cache and asks for no output: it must not be raised).
	MaxTokensSet bool
	// N is how many choices (chat) or images (images) are asked for; 1 when not given.
	N int64
	// ImageSize and ImageQuality are the images endpoint's size and quality ("" when not given).
	ImageSize, ImageQuality string
	// IncludeUsage is true when the client itself asked for stream_options.include_usage.
	IncludeUsage bool

	fields map[string]json.RawMessage
}

// ErrBadRequest is wrapped by every parse error; its text is safe to show the client.
var ErrBadRequest = errors.New("invalid request")

type parseError struct{ msg, param string }

func (e *parseError) Error() string { return e.msg }
func (e *parseError) Unwrap() error { return ErrBadRequest }

// Param names the request field a parse error is about ("" when it is the whole body).
func Param(err error) string {
	var pe *parseError
	if errors.As(err, &pe) {
		return pe.param
	}
	return ""
}

// maxTokenFields are the output-cap fields of each endpoint, in order of preference.
func maxTokenFields(e Endpoint) []string {
	switch e {
	case ChatCompletions:
		return []string{"max_completion_tokens", "max_tokens"}
	case Responses:
		return []string{"max_output_tokens"}
	case Messages:
		return []string{"max_tokens"}
	}
	return nil
}

// ParseRequest reads a request body for endpoint e. It checks only what the gateway needs: a JSON
// object with a string model, and well-typed stream, output caps and n.
func ParseRequest(e Endpoint, body []byte) (*Request, error) {
	r := &Request{Endpoint: e, N: 1}
	// Unmarshal refuses anything after the object too; each field keeps its raw, validated bytes.
	if err := json.Unmarshal(body, &r.fields); err != nil || r.fields == nil {
		return nil, &parseError{msg: "The request body is not a single JSON object."}
	}
	if err := r.readModel(); err != nil {
		return nil, err
	}
	if err := r.readScalars(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Request) readModel() error {
	raw, ok := r.fields["model"]
	if !ok || json.Unmarshal(raw, &r.Model) != nil || r.Model == "" {
		return &parseError{msg: "You must provide a model parameter.", param: "model"}
	}
	return nil
}

func (r *Request) readScalars() error {
	if raw, ok := r.fields["stream"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &r.Stream) != nil {
			return &parseError{msg: "stream must be a boolean.", param: "stream"}
		}
	}
	for _, f := range maxTokenFields(r.Endpoint) {
		v, ok, err := r.intField(f)
		if err != nil {
			return err
		}
		if ok && (!r.MaxTokensSet || v < r.MaxTokens) {
			r.MaxTokens, r.MaxTokensSet = v, true // with both chat fields given, the smaller one binds
		}
	}
	if r.Endpoint == ChatCompletions || r.Endpoint == ImageGenerations {
		if v, ok, err := r.intField("n"); err != nil {
			return err
		} else if ok {
			r.N = max(v, 1)
		}
	}
	if r.Endpoint == ImageGenerations {
		r.ImageSize, r.ImageQuality = r.stringField("size"), r.stringField("quality")
	}
	if r.Endpoint == ChatCompletions {
		r.IncludeUsage = r.clientIncludeUsage()
	}
	return nil
}

// intField reads a non-negative integer field; null or absent is not given.
func (r *Request) intField(name string) (int64, bool, error) {
	raw, ok := r.fields[name]
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < 0 {
		return 0, false, &parseError{msg: name + " must be a non-negative integer.", param: name}
	}
	return v, true, nil
}

func (r *Request) stringField(name string) string {
	var s string
	if raw, ok := r.fields[name]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

func (r *Request) clientIncludeUsage() bool {
	var so struct {
		IncludeUsage bool `json:"include_usage"`
	}
	raw, ok := r.fields["stream_options"]
	return ok && json.Unmarshal(raw, &so) == nil && so.IncludeUsage
}

// SetMaxTokens lowers (or sets) the output cap to n in every cap field the client used; when it used
// none, it sets the endpoint's usual field (max_completion_tokens for chat). Embeddings and images have
// no output cap and are left as they are.
func (r *Request) SetMaxTokens(n int64) {
	fields := maxTokenFields(r.Endpoint)
	if len(fields) == 0 {
		return
	}
	set := false
	for _, f := range fields {
		if _, ok := r.fields[f]; ok {
			r.fields[f] = json.RawMessage(strconv.FormatInt(n, 10))
			set = true
		}
	}
	if !set {
		r.fields[fields[0]] = json.RawMessage(strconv.FormatInt(n, 10))
	}
	r.MaxTokens, r.MaxTokensSet = n, true
}

// SetMaxTokensField sets the output cap in the named field only and removes the endpoint's other cap
// fields, for an openai-compatible server that knows only max_tokens.
func (r *Request) SetMaxTokensField(field string, n int64) {
	for _, f := range maxTokenFields(r.Endpoint) {
		delete(r.fields, f)
	}
	r.fields[field] = json.RawMessage(strconv.FormatInt(n, 10))
	r.MaxTokens, r.MaxTokensSet = n, true
}

// EnsureIncludeUsage asks an OpenAI chat stream for its final usage chunk, keeping any other
// stream_options. It reports whether the client had asked for it itself: when not, the handler drops
// that chunk again (StreamMeter with dropUsageChunk). It does nothing outside chat streams.
func (r *Request) EnsureIncludeUsage() (clientAsked bool) {
	if r.Endpoint != ChatCompletions || !r.Stream {
		return r.IncludeUsage
	}
	opts := map[string]json.RawMessage{}
	if raw, ok := r.fields["stream_options"]; ok && string(raw) != "null" {
		_ = json.Unmarshal(raw, &opts)
	}
	opts["include_usage"] = json.RawMessage("true")
	b, _ := json.Marshal(opts)
	r.fields["stream_options"] = b
	return r.IncludeUsage
}

// Body is the request to forward: the client's fields with the rewrites made.
// The values are written back byte for byte as the client sent them (they were validated when
// parsed), keys in sorted order; re-encoding them would only re-validate and escape "<" as \u003c.
func (r *Request) Body() ([]byte, error) {
	keys := make([]string, 0, len(r.fields))
	size := 2
	for k, v := range r.fields {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	sort.Strings(keys)
	buf := bytes.NewBuffer(make([]byte, 0, size))
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(r.fields[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// Raw returns a field as the client sent it (nil when absent), for reading more than Request holds.
func (r *Request) Raw(name string) json.RawMessage { return r.fields[name] }

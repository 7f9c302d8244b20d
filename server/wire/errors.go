package wire

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error is a gateway error, written in the wire format of the route:
// OpenAI {"error":{"message","type","param","code"}}, Anthropic {"type":"error","error":{"type","message"}}.
type Error struct {
	Status  int
	Message string
	Param   string // the OpenAI param the error is about, if any
	// RetryAfter, in seconds, is sent as the Retry-After header with a 429 (0: none).
	RetryAfter int
	// OpenAIType/OpenAICode and AnthropicType override the defaults of the status when set.
	OpenAIType, OpenAICode, AnthropicType string
}

func (e *Error) Error() string { return e.Message }

// statusTypes are each status's default OpenAI type and code, and Anthropic type.
var statusTypes = map[int][3]string{
	400: {"invalid_request_error", "invalid_request", "invalid_request_error"},
	401: {"invalid_request_error", "invalid_api_key", "authentication_error"},
	402: {"insufficient_quota", "insufficient_quota", "billing_error"},
	403: {"permission_error", "model_not_allowed", "permission_error"},
	404: {"invalid_request_error", "model_not_found", "not_found_error"},
	413: {"invalid_request_error", "request_too_large", "request_too_large"},
	429: {"requests", "rate_limit_exceeded", "rate_limit_error"},
	500: {"server_error", "internal_error", "api_error"},
	502: {"server_error", "bad_gateway", "api_error"},
	503: {"server_error", "service_unavailable", "overloaded_error"},
	504: {"server_error", "timeout", "timeout_error"},
}

func (e *Error) types() (oaType, oaCode, anType string) {
	d, ok := statusTypes[e.Status]
	if !ok {
		d = statusTypes[500]
		if e.Status < 500 {
			d = statusTypes[400]
		}
	}
	oaType, oaCode, anType = d[0], d[1], d[2]
	if e.OpenAIType != "" {
		oaType = e.OpenAIType
	}
	if e.OpenAICode != "" {
		oaCode = e.OpenAICode
	}
	if e.AnthropicType != "" {
		anType = e.AnthropicType
	}
	return
}

// Body is the error's JSON body in format f.
func (e *Error) Body(f Format) []byte {
	oaType, oaCode, anType := e.types()
	var v any
	if f == Anthropic {
		v = map[string]any{"type": "error", "error": map[string]string{"type": anType, "message": e.Message}}
	} else {
		var param any
		if e.Param != "" {
			param = e.Param
		}
		v = map[string]any{"error": map[string]any{"message": e.Message, "type": oaType, "param": param, "code": oaCode}}
	}
	b, _ := json.Marshal(v)
	return b
}

// Write sends the error as a JSON reply in format f (status, Retry-After when set, body).
func (e *Error) Write(w http.ResponseWriter, f Format) {
	w.Header().Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.Body(f))
}

// StreamEvent is the error as one SSE event, for a failure after a stream has started: Anthropic sends
// "event: error", OpenAI a data line with the error object.
func (e *Error) StreamEvent(f Format) []byte {
	if f == Anthropic {
		return append(append([]byte("event: error\ndata: "), e.Body(f)...), "\n\n"...)
	}
	return append(append([]byte("data: "), e.Body(f)...), "\n\n"...)
}

// BadRequest is a 400 about param (may be "").
func BadRequest(msg, param string) *Error { return &Error{Status: 400, Message: msg, Param: param} }

// Unauthorized is a 401: no key, or a key that is not (or no longer) valid.
func Unauthorized(msg string) *Error { return &Error{Status: 401, Message: msg} }

// InsufficientQuota is a 402 (OpenAI insufficient_quota, Anthropic billing_error); msg says what ran out
// and when it refills, in words a child understands.
func InsufficientQuota(msg string) *Error { return &Error{Status: 402, Message: msg} }

// Forbidden is a 403: the caller may not use this model or route.
func Forbidden(msg string) *Error { return &Error{Status: 403, Message: msg} }

// ModelNotFound is a 404 model_not_found: no provider serves the model, or it has no price.
func ModelNotFound(msg string) *Error { return &Error{Status: 404, Message: msg, Param: "model"} }

// TooLarge is a 413: the body is over the limit.
func TooLarge(msg string) *Error { return &Error{Status: 413, Message: msg} }

// RateLimited is a 429 with Retry-After seconds.
func RateLimited(msg string, retryAfter int) *Error {
	return &Error{Status: 429, Message: msg, RetryAfter: max(retryAfter, 1)}
}

// BadGateway is a 502: the provider could not be reached.
func BadGateway(msg string) *Error { return &Error{Status: 502, Message: msg} }

// Timeout is a 504: the provider did not answer in time.
func Timeout(msg string) *Error { return &Error{Status: 504, Message: msg} }

// Internal is a 500.
func Internal(msg string) *Error { return &Error{Status: 500, Message: msg} }

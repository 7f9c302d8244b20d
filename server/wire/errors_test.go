package wire

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestErrorBodiesInEachWireFormat(t *testing.T) {
	cases := []struct {
		err                    *Error
		oaType, oaCode, anType string
	}{
		{BadRequest("bad", "messages"), "invalid_request_error", "invalid_request", "invalid_request_error"},
		{Unauthorized("no key"), "invalid_request_error", "invalid_api_key", "authentication_error"},
		{InsufficientQuota("Your Homework allowance from Mum is used up until tomorrow 00:00."), "insufficient_quota", "insufficient_quota", "billing_error"},
		{Forbidden("not allowed"), "permission_error", "model_not_allowed", "permission_error"},
		{ModelNotFound("no price"), "invalid_request_error", "model_not_found", "not_found_error"},
		{TooLarge("too big"), "invalid_request_error", "request_too_large", "request_too_large"},
		{RateLimited("slow down", 7), "requests", "rate_limit_exceeded", "rate_limit_error"},
		{BadGateway("down"), "server_error", "bad_gateway", "api_error"},
		{Timeout("slow"), "server_error", "timeout", "timeout_error"},
		{&Error{Status: 418, Message: "odd"}, "invalid_request_error", "invalid_request", "invalid_request_error"},
	}
	for _, c := range cases {
		var oa struct {
			Error struct {
				Message, Type string
				Code          string
				Param         *string
			}
		}
		if err := json.Unmarshal(c.err.Body(OpenAI), &oa); err != nil {
			t.Fatal(err)
		}
		if oa.Error.Type != c.oaType || oa.Error.Code != c.oaCode || oa.Error.Message != c.err.Message {
			t.Errorf("%d openai: %+v", c.err.Status, oa.Error)
		}
		var an struct {
			Type  string
			Error struct{ Type, Message string }
		}
		if err := json.Unmarshal(c.err.Body(Anthropic), &an); err != nil {
			t.Fatal(err)
		}
		if an.Type != "error" || an.Error.Type != c.anType || an.Error.Message != c.err.Message {
			t.Errorf("%d anthropic: %+v", c.err.Status, an)
		}
	}
}

func TestErrorWriteSetsStatusAndRetryAfter(t *testing.T) {
	rec := httptest.NewRecorder()
	RateLimited("wait", 12).Write(rec, Anthropic)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "12" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("got %d %v", rec.Code, rec.Header())
	}
	ev := string(Timeout("slow").StreamEvent(Anthropic))
	if ev[:len("event: error\ndata: {")] != "event: error\ndata: {" || ev[len(ev)-2:] != "\n\n" {
		t.Errorf("stream event %q", ev)
	}
}

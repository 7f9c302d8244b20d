package wire

import (
	"io"
	"strings"
	"testing"
)

// BenchmarkRelayChatStream measures what metering adds per streamed event: a 200-chunk chat stream
// read, parsed and passed on (the usage chunk dropped).
func BenchmarkRelayChatStream(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 200; i++ {
		sb.WriteString("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word\"},\"finish_reason\":null}],\"usage\":null}\n\n")
	}
	sb.WriteString("data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":200}}\n\ndata: [DONE]\n\n")
	stream := sb.String()
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m := NewStreamMeter(ChatCompletions, true)
		if res := Relay(io.Discard, nil, strings.NewReader(stream), m, nil); res.Events != 202 {
			b.Fatal(res.Events)
		}
	}
}

// BenchmarkParseAndRewriteRequest measures reading a 40-message chat request and writing it back with
// a lower max_tokens and include_usage.
func BenchmarkParseAndRewriteRequest(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"model":"gpt-4o","stream":true,"max_tokens":4000,"messages":[`)
	for i := 0; i < 40; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"role":"user","content":"` + strings.Repeat("lorem ipsum dolor sit amet ", 20) + `"}`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r, err := ParseRequest(ChatCompletions, body)
		if err != nil {
			b.Fatal(err)
		}
		_ = r.Input()
		r.SetMaxTokens(1000)
		r.EnsureIncludeUsage()
		if _, err := r.Body(); err != nil {
			b.Fatal(err)
		}
	}
}

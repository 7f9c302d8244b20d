package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

const chatStream = "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}],\"usage\":null}\n\n" +
	"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n" +
	"data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2,\"total_tokens\":14,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n" +
	"data: [DONE]\n\n"

func relay(t *testing.T, e Endpoint, drop bool, stream string) (string, *StreamMeter, RelayResult) {
	t.Helper()
	var out bytes.Buffer
	m := NewStreamMeter(e, drop)
	res := Relay(&out, nil, strings.NewReader(stream), m, nil)
	return out.String(), m, res
}

func TestChatStreamUsageChunkKeptOrDropped(t *testing.T) {
	for _, drop := range []bool{false, true} {
		out, m, res := relay(t, ChatCompletions, drop, chatStream)
		u, ok := m.Usage()
		if !ok || u != (Usage{InputTokens: 12, OutputTokens: 2}) || !m.Complete() || res.UpstreamErr != nil {
			t.Errorf("drop=%v: usage %+v %v complete=%v err=%v", drop, u, ok, m.Complete(), res.UpstreamErr)
		}
		hasUsage := strings.Contains(out, `"completion_tokens"`)
		if hasUsage == drop {
			t.Errorf("drop=%v but usage chunk forwarded=%v:\n%s", drop, hasUsage, out)
		}
		want := chatStream
		if drop {
			want = strings.Replace(chatStream, chatStream[strings.Index(chatStream, "data: {\"id\":\"c1\",\"choices\":[],"):strings.Index(chatStream, "data: [DONE]")], "", 1)
		}
		if out != want {
			t.Errorf("drop=%v: forwarded\n%q\nwant\n%q", drop, out, want)
		}
		if m.StreamedTextBytes() != 5 {
			t.Errorf("streamed text bytes = %d, want 5", m.StreamedTextBytes())
		}
	}
}

func TestResponsesStreamUsageFromFinalEvent(t *testing.T) {
	for _, final := range []string{"response.completed", "response.incomplete", "response.failed"} {
		s := "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"usage\":null}}\n\n" +
			"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi!\"}\n\n" +
			"event: " + final + "\ndata: {\"type\":\"" + final + "\",\"response\":{\"usage\":{\"input_tokens\":30,\"input_tokens_details\":{\"cached_tokens\":10}," +
			"\"output_tokens\":50,\"output_tokens_details\":{\"reasoning_tokens\":40},\"total_tokens\":80}}}\n\n"
		out, m, _ := relay(t, Responses, true, s)
		u, ok := m.Usage()
		if !ok || u != (Usage{InputTokens: 30, CachedInputTokens: 10, OutputTokens: 50, ReasoningTokens: 40}) || !m.Complete() {
			t.Errorf("%s: %+v %v complete=%v", final, u, ok, m.Complete())
		}
		if out != s || m.StreamedTextBytes() != 3 {
			t.Errorf("%s: stream changed or text bytes %d", final, m.StreamedTextBytes())
		}
	}
}

const anthropicStream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":2000,\"output_tokens\":1}}}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: ping\ndata: {\"type\": \"ping\"}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n" +
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null},\"usage\":{\"output_tokens\":10}}\n\n" +
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":2000,\"output_tokens\":15}}\n\n" +
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

func TestAnthropicStreamTakesLastCumulativeDeltaNeverASum(t *testing.T) {
	out, m, _ := relay(t, Messages, true, anthropicStream)
	u, ok := m.Usage()
	want := Usage{InputTokens: 2125, CachedInputTokens: 2000, CacheWriteTokens: 100, OutputTokens: 15}
	if !ok || u != want || !m.Complete() {
		t.Errorf("usage %+v %v complete=%v, want %+v", u, ok, m.Complete(), want)
	}
	if out != anthropicStream {
		t.Error("anthropic stream was changed")
	}
}

func TestStreamCutBeforeUsage(t *testing.T) {
	cut := chatStream[:strings.Index(chatStream, "data: {\"id\":\"c1\",\"choices\":[],")+20] // inside the usage chunk
	out, m, res := relay(t, ChatCompletions, true, cut)
	if _, ok := m.Usage(); ok || m.Complete() {
		t.Error("a cut stream reported usage or completion")
	}
	if !errors.Is(res.UpstreamErr, io.ErrUnexpectedEOF) {
		t.Errorf("UpstreamErr = %v, want unexpected EOF", res.UpstreamErr)
	}
	if !strings.HasPrefix(out, chatStream[:40]) || m.StreamedTextBytes() != 5 {
		t.Errorf("what arrived before the cut was not passed on / counted: %q", out)
	}
	// a clean EOF without [DONE]: no error, but not complete
	_, m2, res2 := relay(t, ChatCompletions, false, chatStream[:strings.Index(chatStream, "data: {\"id\":\"c1\",\"choices\":[],")])
	if res2.UpstreamErr != nil || m2.Complete() {
		t.Errorf("clean EOF: err=%v complete=%v", res2.UpstreamErr, m2.Complete())
	}
}

func TestSSEReaderCRLFAndLongLinesAndMultiData(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	s := ": comment\r\n\r\nevent: a\r\ndata: {\"k\":\r\ndata: \"" + long + "\"}\r\n\r\n\n\ndata: second\n\n"
	r := NewSSEReader(strings.NewReader(s))
	ev, err := r.Next()
	if err != nil || len(ev.Raw) != len(": comment\r\n\r\n") {
		t.Fatalf("comment event: %q %v", ev.Raw, err)
	}
	ev, err = r.Next()
	if err != nil || ev.Name != "a" || string(ev.Data) != "{\"k\":\n\""+long+"\"}" {
		t.Fatalf("long event: name=%q data len %d err=%v", ev.Name, len(ev.Data), err)
	}
	ev, err = r.Next()
	if err != nil || string(ev.Data) != "second" {
		t.Fatalf("after blank lines: %q %v", ev.Data, err)
	}
	if _, err = r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// slowReader hands the stream out a few bytes at a time, as a network would.
type slowReader struct {
	s string
	n int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	k := min(r.n, len(r.s), len(p))
	copy(p, r.s[:k])
	r.s = r.s[k:]
	return k, nil
}

type failAfter struct {
	writes, limit int
	bytes.Buffer
}

func (w *failAfter) Write(p []byte) (int, error) {
	if w.writes++; w.writes > w.limit {
		return 0, errors.New("client gone")
	}
	return w.Buffer.Write(p)
}

func TestRelayReadsOnForUsageWhenClientGoes(t *testing.T) {
	w := &failAfter{limit: 1}
	m := NewStreamMeter(Messages, false)
	gone := 0
	flushes := 0
	res := Relay(w, func() error { flushes++; return nil }, &slowReader{s: anthropicStream, n: 7}, m, func() { gone++ })
	u, ok := m.Usage()
	if !res.ClientGone || gone != 1 || !ok || u.OutputTokens != 15 || !m.Complete() {
		t.Errorf("gone=%v calls=%d usage=%+v %v", res.ClientGone, gone, u, ok)
	}
	if flushes != 1 || res.Events != 7 {
		t.Errorf("flushes=%d events=%d, want 1 flush (only the first write succeeded), 7 events", flushes, res.Events)
	}
}

func TestStreamErrorEventIsNoted(t *testing.T) {
	s := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n"
	_, m, _ := relay(t, ChatCompletions, true, s)
	if !bytes.Contains(m.ErrorEvent(), []byte("overloaded")) {
		t.Errorf("error event not noted: %q", m.ErrorEvent())
	}
	a := "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
	_, m, _ = relay(t, Messages, false, a)
	if m.ErrorEvent() == nil {
		t.Error("anthropic error event not noted")
	}
}

func TestStreamEndingWithoutClosingBlankLine(t *testing.T) {
	s := strings.TrimSuffix(chatStream, "\n") // "data: [DONE]\n" then EOF
	out, m, res := relay(t, ChatCompletions, false, s)
	if res.UpstreamErr != nil || !m.Complete() || out != s {
		t.Errorf("err=%v complete=%v out=%q", res.UpstreamErr, m.Complete(), out)
	}
	r := NewSSEReader(strings.NewReader("data: a\n\n  \n"))
	if ev, err := r.Next(); err != nil || string(ev.Data) != "a" {
		t.Fatalf("%q %v", ev.Data, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("trailing blank space: %v, want EOF", err)
	}
}

func TestAnthropicDeltaWithNullCountsKeepsMessageStart(t *testing.T) {
	s := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":40,\"cache_read_input_tokens\":60,\"output_tokens\":1}}}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":null,\"cache_read_input_tokens\":null,\"output_tokens\":9}}\n\n"
	_, m, _ := relay(t, Messages, false, s)
	if u, ok := m.Usage(); !ok || u != (Usage{InputTokens: 100, CachedInputTokens: 60, OutputTokens: 9}) || m.Complete() {
		t.Errorf("%+v %v complete=%v", u, ok, m.Complete())
	}
}

// TestSSEReaderSameEventsWhateverTheChunking: the network may split a stream anywhere.
func TestSSEReaderSameEventsWhateverTheChunking(t *testing.T) {
	for _, stream := range []string{chatStream, anthropicStream, strings.ReplaceAll(anthropicStream, "\n", "\r\n")} {
		var want []string
		r := NewSSEReader(strings.NewReader(stream))
		for ev, err := r.Next(); err == nil; ev, err = r.Next() {
			want = append(want, ev.Name+"|"+string(ev.Data)+"|"+string(ev.Raw))
		}
		for n := 1; n <= 17; n++ {
			r := NewSSEReader(&slowReader{s: stream, n: n})
			i := 0
			for ev, err := r.Next(); err == nil; ev, err = r.Next() {
				if got := ev.Name + "|" + string(ev.Data) + "|" + string(ev.Raw); i >= len(want) || got != want[i] {
					t.Fatalf("chunk %d, event %d: %q", n, i, got)
				}
				i++
			}
			if i != len(want) || len(want) < 4 {
				t.Fatalf("chunk %d: %d events, want %d", n, i, len(want))
			}
		}
	}
}

func TestImagesStreamCountsCompletedImages(t *testing.T) {
	s := "event: image_generation.partial_image\ndata: {\"type\":\"image_generation.partial_image\",\"b64_json\":\"AAAA\",\"partial_image_index\":0}\n\n" +
		"event: image_generation.completed\ndata: {\"type\":\"image_generation.completed\",\"b64_json\":\"BBBB\",\"usage\":{\"input_tokens\":50,\"output_tokens\":4160,\"total_tokens\":4210,\"input_tokens_details\":{\"text_tokens\":50,\"image_tokens\":0}}}\n\n"
	out, m, _ := relay(t, ImageGenerations, false, s)
	if u, ok := m.Usage(); !ok || u != (Usage{InputTokens: 50, OutputTokens: 4160, Images: 1}) || !m.Complete() || out != s {
		t.Errorf("%+v %v complete=%v", u, ok, m.Complete())
	}
}

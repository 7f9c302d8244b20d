package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// cmdFakeAI is a fake OpenAI-compatible provider for the gateway benchmark, on 127.0.0.1 only. It
// answers at once, so that what the benchmark measures is tokenjar's own cost:
//
//	GET  /v1/models             the models bench-model and bench-slow
//	POST /v1/chat/completions   plain: a fixed completion with a usage block;
//	                            "stream": true: a role chunk, -chunks content chunks, the usage
//	                            chunk when stream_options.include_usage is set, then [DONE];
//	                            model "bench-slow" streamed: one content chunk every -slow-every,
//	                            -slow-chunks of them (the first at once).
//
// It reads the request body whole (as a real provider does) and parses only model, stream and
// stream_options.
func cmdFakeAI(args []string) error {
	fs := flag.NewFlagSet("fakeai", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	chunks := fs.Int("chunks", 8, "content chunks of a fast stream")
	slowChunks := fs.Int("slow-chunks", 10, "content chunks of a bench-slow stream")
	slowEvery := fs.Duration("slow-every", time.Second, "time between the chunks of a bench-slow stream")
	fs.Parse(args)
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing %s: loopback addresses only", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("fakeai listening on http://%s/v1\n", ln.Addr())

	plain := []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1765000000,"model":"bench-model",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the fake provider."},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}`)
	models := []byte(`{"object":"list","data":[{"id":"bench-model","object":"model","owned_by":"bench"},{"id":"bench-slow","object":"model","owned_by":"bench"}]}`)
	chunk := func(model, delta string) []byte {
		return []byte(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1765000000,"model":"` + model +
			`","choices":[{"index":0,"delta":` + delta + `,"finish_reason":null}]}` + "\n\n")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(models)
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, "read", 400)
			return
		}
		var req struct {
			Model         string `json:"model"`
			Stream        bool   `json:"stream"`
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"message":"bad json","type":"invalid_request_error"}}`))
			return
		}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(plain)))
			w.Write(plain)
			return
		}
		fl, _ := w.(http.Flusher)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(200)
		w.Write(chunk(req.Model, `{"role":"assistant","content":""}`))
		n, every := *chunks, time.Duration(0)
		if req.Model == "bench-slow" {
			n, every = *slowChunks, *slowEvery
		}
		for i := 0; i < n; i++ {
			if i > 0 && every > 0 {
				fl.Flush()
				select {
				case <-time.After(every):
				case <-r.Context().Done():
					return
				}
			}
			w.Write(chunk(req.Model, `{"content":"tok`+strconv.Itoa(i)+` "}`))
		}
		w.Write([]byte(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1765000000,"model":"` + req.Model +
			`","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"))
		if req.StreamOptions.IncludeUsage {
			w.Write([]byte(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1765000000,"model":"` + req.Model +
				`","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":` + strconv.Itoa(n) + `,"total_tokens":` + strconv.Itoa(12+n) + `}}` + "\n\n"))
		}
		w.Write([]byte("data: [DONE]\n\n"))
		if fl != nil {
			fl.Flush()
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	return srv.Serve(ln)
}

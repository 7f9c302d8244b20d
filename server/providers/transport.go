// Package providers talks to the AI providers behind the gateway: one HTTP client per provider kind
// (openai, anthropic, openai-compatible such as Ollama, vLLM or llama.cpp), sharing one transport. It
// streams replies through without buffering them and turns a provider that does not answer in time into
// a typed timeout the handler maps to 504. It knows nothing of money.
package providers

import (
	"net"
	"net/http"
	"time"
)

// NewTransport is a transport for provider traffic. Connections are pooled per host, so a provider
// that is down (its dials time out, its connections hang) holds only its own connections and never
// delays requests to another provider, nor the rest of tokenjar, which does not use this transport.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Replies pass through as they come: no transparent gzip that would hold back stream chunks.
		DisableCompression: true,
	}
}

// Shared is the transport all provider clients use unless given another.
var Shared = NewTransport()

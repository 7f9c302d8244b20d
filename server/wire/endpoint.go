// Package wire knows the OpenAI and Anthropic wire formats the gateway speaks: it reads just enough of a
// request to meter and limit it (keeping every field it does not know when forwarding), reads the usage of
// plain and streamed replies, and writes errors in the format of each route. It holds no money rule: the
// domain (package core) prices and holds, the handlers wire the two.
package wire

// Format is the wire format of a route: its error shape and its key header.
type Format int

const (
	OpenAI Format = iota + 1
	Anthropic
)

// Endpoint is one gateway route.
type Endpoint int

const (
	ChatCompletions  Endpoint = iota + 1 // POST /v1/chat/completions
	Responses                            // POST /v1/responses
	Embeddings                           // POST /v1/embeddings
	ImageGenerations                     // POST /v1/images/generations
	Messages                             // POST /v1/messages (Anthropic)
)

// Format is the wire format the endpoint speaks.
func (e Endpoint) Format() Format {
	if e == Messages {
		return Anthropic
	}
	return OpenAI
}

// Path is the endpoint's path below a provider's base URL (which by convention ends in /v1).
func (e Endpoint) Path() string {
	switch e {
	case ChatCompletions:
		return "/chat/completions"
	case Responses:
		return "/responses"
	case Embeddings:
		return "/embeddings"
	case ImageGenerations:
		return "/images/generations"
	case Messages:
		return "/messages"
	}
	return ""
}

// UsageType is the usage type of an event this endpoint produces (SPEC section 10).
func (e Endpoint) UsageType() string {
	switch e {
	case Embeddings:
		return "embedding"
	case ImageGenerations:
		return "image"
	}
	return "token_usage"
}

// Modality is the event modality of this endpoint.
func (e Endpoint) Modality() string {
	switch e {
	case Embeddings:
		return "embedding"
	case ImageGenerations:
		return "image"
	}
	return "text"
}

package server

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"tokenjar/server/core"
)

// What a client can make the server hold: bodies are limited before they are read, and slow
// or idle connections are closed. README.md ("Limits") documents these figures.
const (
	// BodyLimit is the largest request body of every route but largeBodyRoutes, and of those
	// for a caller without the access they need. A body declared larger (Content-Length) is
	// refused with 413 before any of it is read; a chunked one as soon as it passes the limit.
	// fasthttp holds at most the declared size per connection, so a stranger's slow body costs
	// at most 64 KiB.
	BodyLimit = 64 << 10
	// LargeBodyLimit is for largeBodyRoutes: a class import of 2,000 members (name ≤ 100,
	// email ≤ 254, group ≤ 60 bytes: about 450 bytes a member as JSON) or a bulk delegation to
	// 2,000 emails.
	LargeBodyLimit = 1 << 20
	// ReadTimeout is the time a request's head and body have to arrive, from its first byte
	// (or from the connection's opening, for the first request). Then the connection is closed.
	ReadTimeout = 10 * time.Second
	// LargeReadTimeout replaces ReadTimeout, once the head has arrived, on largeBodyRoutes for
	// a caller allowed the larger body (1 MiB at 20 KB/s).
	LargeReadTimeout = 60 * time.Second
	// IdleTimeout is how long a kept-alive connection waits for its next request.
	IdleTimeout = 30 * time.Second
)

// largeBodyRoutes are the routes (method and path under /api/v1) that accept LargeBodyLimit,
// from a caller with the route's access (never "public").
var largeBodyRoutes = []string{"POST /members/import", "POST /delegations/bulk"}

// requestConfig runs in fasthttp once a request's head has arrived, before its body is read:
// it raises the body limit (and the time to read it) for largeBodyRoutes when the caller's
// credentials give the access the route needs. Everything else keeps the server's limits.
func (s *Server) requestConfig(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	path, _, _ := bytes.Cut(h.RequestURI(), []byte("?"))
	if h.IsPost() && isGatewayPath(string(path)) {
		// The AI gateway: chats carry whole conversations and images. Raised only for a valid
		// key, so a stranger's slow body still costs at most BodyLimit.
		if !s.mayUseGateway(h) {
			return fasthttp.RequestConfig{}
		}
		return fasthttp.RequestConfig{MaxRequestBodySize: GatewayBodyLimit, ReadTimeout: LargeReadTimeout}
	}
	access, ok := s.largeBodies[string(h.Method())+" "+string(path)]
	if !ok || !s.mayPostLarge(h, access) {
		return fasthttp.RequestConfig{}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: LargeBodyLimit, ReadTimeout: LargeReadTimeout}
}

// mayPostLarge tells whether a request's credentials (bearer token or session cookie) are valid
// and give the access a large-body route needs. The route's own checks run again after the
// body is read, with the CSRF check for cookies.
func (s *Server) mayPostLarge(h *fasthttp.RequestHeader, access string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var p core.Principal
	var err error
	if auth := string(h.Peek(fiber.HeaderAuthorization)); auth != "" {
		bearer, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return false
		}
		p, err = s.svc.AuthenticateBearer(ctx, strings.TrimSpace(bearer))
	} else if sid := h.Cookie(sessionCookie); len(sid) > 0 {
		p, err = s.svc.AuthenticateSession(ctx, string(sid))
	} else {
		return false
	}
	if err != nil {
		return false
	}
	switch access {
	case "admin":
		return p.Role == core.RoleAdmin || p.Role == core.RoleOwner
	case "member":
		return p.UserID != 0
	case "user":
		return true
	}
	return false
}

// mayUseGateway tells whether a gateway request's key (Authorization: Bearer or x-api-key) is a
// valid personal token or app key. The handler checks the rest after the body is read.
func (s *Server) mayUseGateway(h *fasthttp.RequestHeader) bool {
	key, ok := gatewayKey(func(k string) string { return string(h.Peek(k)) })
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.svc.AuthenticateBearer(ctx, key)
	return err == nil
}

// refuseEncodedBodies answers 415 to a body sent compressed (Content-Encoding). Fiber would
// inflate it without a limit when the handler reads it: 64 KiB of gzip can hold 64 MB, and
// gzip inside gzip far more. tokenjar's clients send plain JSON.
func refuseEncodedBodies(c *fiber.Ctx) error {
	enc := strings.TrimSpace(c.Get(fiber.HeaderContentEncoding))
	if enc != "" && !strings.EqualFold(enc, "identity") {
		return &fiber.Error{Code: fiber.StatusUnsupportedMediaType, Message: "Content-Encoding " + enc + " is not accepted: send the body uncompressed"}
	}
	return c.Next()
}

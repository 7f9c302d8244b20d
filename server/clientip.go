package server

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// signinAddress is the address the sign-in throttle counts a request against. Behind a trusted
// proxy it is the last X-Forwarded-For entry, the one the proxy appended: the entries before it
// come from the client, and Fiber's c.IP() (the whole header, or its first address) would let
// a guesser pick a new "address" for every guess.
func (s *Server) signinAddress(c *fiber.Ctx) string {
	if s.cfg.TrustProxy {
		xff := c.Get(fiber.HeaderXForwardedFor)
		if i := strings.LastIndexByte(xff, ','); i >= 0 {
			xff = xff[i+1:]
		}
		if a := strings.TrimSpace(xff); a != "" {
			return a
		}
	}
	return c.Context().RemoteIP().String()
}

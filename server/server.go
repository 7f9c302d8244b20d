// Package server is tokenjar's HTTP face: the JSON API under /api/v1 and the embedded SPA.
// Handlers parse, call one domain method, and reply; one error handler maps coded errors to
// statuses.
package server

import (
	"cmp"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/markbates/goth"

	"tokenjar/server/core"
)

// Config is what the server needs besides the domain.
type Config struct {
	// SecureCookies marks cookies Secure. Also set per request when the request came over HTTPS.
	SecureCookies bool
	// TrustProxy honours X-Forwarded-Proto / X-Forwarded-For from a reverse proxy.
	TrustProxy bool
	Version    string
	// BaseURL is the public address (https://jar.example.org) used in provider callbacks and
	// invitation links; empty means the address of each request.
	BaseURL string
	// ProviderKeys seals and opens the AI providers' API keys (the key file in the data folder).
	ProviderKeys *core.KeyBox
	// ReadTimeout and IdleTimeout replace the defaults of the same names (limits.go) when set.
	ReadTimeout, IdleTimeout time.Duration
}

// Server is the HTTP application.
type Server struct {
	app *fiber.App
	svc *core.Service
	cfg Config
	log *slog.Logger
	spa fs.FS
	// done closes on Shutdown, so long-lived streams end instead of holding shutdown up.
	done      chan struct{}
	gothCache providerCache
	// largeBodies maps "METHOD /api/v1/path" of largeBodyRoutes to the access they need.
	largeBodies map[string]string
	// billing holds and settles AI gateway requests: the domain, unless a test sets another
	// (WithGatewayBilling).
	billing  gatewayBilling
	gwModels modelLists // providers' own model lists, briefly cached
}

// New builds the server. spa is the built frontend (frontend/dist).
func New(svc *core.Service, spa fs.FS, cfg Config, log *slog.Logger, opts ...Option) *Server {
	s := &Server{svc: svc, cfg: cfg, log: log, spa: spa, done: make(chan struct{}), billing: svc}
	for _, o := range opts {
		o(s)
	}
	s.gothCache.m = map[string]goth.Provider{}
	s.app = fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		BodyLimit:             BodyLimit,
		DisableStartupMessage: true,
		ReadTimeout:           cmp.Or(cfg.ReadTimeout, ReadTimeout),
		IdleTimeout:           cmp.Or(cfg.IdleTimeout, IdleTimeout),
		// No route takes a form; fasthttp would otherwise parse one before the handler runs.
		DisablePreParseMultipartForm: true,
		AppName:                      "tokenjar",
		// Values from a request (params, queries, bodies) outlive their handler here: the
		// export and live-stream writers run after it returns, and sign-in flows keep them.
		Immutable:               true,
		EnableTrustedProxyCheck: !cfg.TrustProxy,
		ProxyHeader: func() string {
			if cfg.TrustProxy {
				return fiber.HeaderXForwardedFor
			}
			return ""
		}(),
	})
	s.largeBodies = map[string]string{}
	for _, r := range s.Routes() {
		if slices.Contains(largeBodyRoutes, r.Method+" "+r.Path) && r.Access != "public" {
			s.largeBodies[r.Method+" /api/v1"+r.Path] = r.Access
		}
	}
	s.app.Server().HeaderReceived = s.requestConfig
	s.app.Use(refuseEncodedBodies)
	s.gatewayRouteSetup()
	s.routes()
	return s
}

// App exposes the Fiber app (for Listen and for tests' app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Shutdown stops accepting requests and waits for those in flight.
func (s *Server) Shutdown() error {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	return s.app.ShutdownWithTimeout(10 * time.Second)
}

var statusOf = map[string]int{
	core.EINVALID:      fiber.StatusBadRequest,
	core.EUNAUTHORIZED: fiber.StatusUnauthorized,
	core.EFORBIDDEN:    fiber.StatusForbidden,
	core.ENOTFOUND:     fiber.StatusNotFound,
	core.ECONFLICT:     fiber.StatusConflict,
	core.ETOOLARGE:     fiber.StatusRequestEntityTooLarge,
	core.ERATELIMITED:  fiber.StatusTooManyRequests,
	core.EDISKFULL:     fiber.StatusInsufficientStorage,
	core.ESTORAGE:      fiber.StatusServiceUnavailable,
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (s *Server) handleError(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if isGatewayPath(c.Path()) {
		return s.gatewayError(c, err)
	}
	body := errorBody{Code: core.EINTERNAL, Message: "internal error"}
	status := fiber.StatusInternalServerError
	ce := core.AsError(err)
	switch {
	case ce != nil:
		body = errorBody{Code: ce.Code, Message: ce.Message, Field: ce.Field}
		if st, ok := statusOf[ce.Code]; ok {
			status = st
		}
	case errors.As(err, &fe):
		status = fe.Code
		body.Message = fe.Message
		switch fe.Code {
		case fiber.StatusNotFound:
			body.Code = core.ENOTFOUND
		case fiber.StatusRequestEntityTooLarge:
			body.Code, body.Message = core.ETOOLARGE, "the body is too large"
		case fiber.StatusMethodNotAllowed:
			body.Code = "method_not_allowed"
		default:
			if fe.Code >= 500 {
				body = errorBody{Code: core.EINTERNAL, Message: "internal error"}
				s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
			} else {
				body.Code = core.EINVALID
			}
		}
	default:
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	return c.Status(status).JSON(fiber.Map{"error": body})
}

package server

// The AI gateway (SPEC section 10): OpenAI- and Anthropic-compatible routes under /v1. The
// handlers parse, ask the domain (who bills, what they may use, the hold and its settlement)
// and pass bytes between the client and the provider; no money rule lives here.

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
	"tokenjar/server/providers"
	"tokenjar/server/wire"
)

// gatewayBilling is the domain's hold-then-settle of gateway requests (core/gateway_billing.go).
// *core.Service implements it once the billing methods land; until then Server.billing is nil
// and the gateway answers 503.
type gatewayBilling interface {
	HoldGatewayCall(ctx context.Context, p core.Principal, call core.GatewayCall) (core.GatewayHold, error)
	SettleGatewayCall(ctx context.Context, h core.GatewayHold, call core.GatewayCall, u core.GatewayUsage) (core.ChargeResult, error)
	ReleaseGatewayCall(ctx context.Context, h core.GatewayHold) error
}

// Option changes how New builds the server.
type Option func(*Server)

// WithGatewayBilling sets the billing the AI gateway holds and settles through.
func WithGatewayBilling(b gatewayBilling) Option { return func(s *Server) { s.billing = b } }

const (
	// GatewayBodyLimit is the largest body of a gateway POST, raised from BodyLimit only once
	// the request's key is known (requestConfig): chats carry whole conversations and images.
	GatewayBodyLimit = 4 << 20
	// maxPlainReply bounds a provider's plain reply the gateway reads (images come base64).
	maxPlainReply = 64 << 20
	// defaultOutputCap is the output cap set on a request that names none, for a model whose
	// cap is not known: the hold needs a bound.
	defaultOutputCap = 4096
	// unboundedInput is the input held for a request whose body does not bound its input
	// (wire.Input.Unbounded), when the model's context window is not known.
	unboundedInput = 200_000
	// minUsefulOutput is the smallest output cap worth forwarding when the hold is lowered.
	minUsefulOutput = 256
)

// clientGoneGrace is how long a stream is read on after its client left, for the usage (a
// variable for tests).
var clientGoneGrace = 30 * time.Second

// shutdownStreamGrace is how long a stream may go on once the server is shutting down (which
// waits 10 s for open connections).
const shutdownStreamGrace = 7 * time.Second

var gatewayEndpoints = []struct {
	path string
	e    wire.Endpoint
}{
	{"/v1/chat/completions", wire.ChatCompletions},
	{"/v1/responses", wire.Responses},
	{"/v1/embeddings", wire.Embeddings},
	{"/v1/images/generations", wire.ImageGenerations},
	{"/v1/messages", wire.Messages},
}

func (s *Server) gatewayRouteSetup() {
	for _, g := range gatewayEndpoints {
		e := g.e
		s.app.Post(g.path, func(c *fiber.Ctx) error { return s.gateway(c, e) })
	}
	s.app.Get("/v1/models", s.gatewayModels)
	s.app.All("/v1/*", func(c *fiber.Ctx) error {
		return sendWire(c, formatOfPath(c.Path()), &wire.Error{Status: 404, Message: "No such route: " + c.Method() + " " + c.Path() + ".", OpenAICode: "not_found"})
	})
}

// isGatewayPath tells whether a path is one of the gateway's (whose errors use the wire formats).
func isGatewayPath(p string) bool { return p == "/v1" || strings.HasPrefix(p, "/v1/") }

func formatOfPath(p string) wire.Format {
	if strings.HasPrefix(p, "/v1/messages") {
		return wire.Anthropic
	}
	return wire.OpenAI
}

func sendWire(c *fiber.Ctx, f wire.Format, e *wire.Error) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	if e.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(e.RetryAfter))
	}
	return c.Status(e.Status).Send(e.Body(f))
}

// wireError maps a domain error to the gateway's error; unknown errors are logged (never with
// a prompt, reply or key: domain errors carry none) and answered 500.
func (s *Server) wireError(err error) *wire.Error {
	ce := core.AsError(err)
	if ce == nil {
		s.log.Error("gateway request failed", "err", err)
		return wire.Internal("Something went wrong in tokenjar.")
	}
	switch ce.Code {
	case core.EPAYMENT:
		return wire.InsufficientQuota(ce.Message)
	case core.EUNAUTHORIZED:
		return wire.Unauthorized(ce.Message)
	case core.EFORBIDDEN:
		return &wire.Error{Status: 403, Message: ce.Message, OpenAICode: "permission_denied"}
	case core.EINVALID:
		return wire.BadRequest(ce.Message, ce.Field)
	case core.ENOTFOUND:
		return wire.ModelNotFound(ce.Message)
	case core.ERATELIMITED:
		return wire.RateLimited(ce.Message, 1)
	case core.ETOOLARGE:
		return wire.TooLarge(ce.Message)
	case core.ESTORAGE, core.EDISKFULL:
		return &wire.Error{Status: 503, Message: "tokenjar cannot record usage right now; try again later."}
	}
	s.log.Error("gateway request failed", "code", ce.Code)
	return wire.Internal("Something went wrong in tokenjar.")
}

// gatewayKey is the API key of a gateway request: Authorization: Bearer, or x-api-key.
func gatewayKey(h func(string) string) (string, bool) {
	if auth := h(fiber.HeaderAuthorization); auth != "" {
		k, ok := strings.CutPrefix(auth, "Bearer ")
		return strings.TrimSpace(k), ok && strings.TrimSpace(k) != ""
	}
	k := strings.TrimSpace(h("x-api-key"))
	return k, k != ""
}

// namedMemberHeaders name the member an app key bills (Open WebUI's forwarded user header first).
var namedMemberHeaders = []string{"X-OpenWebUI-User-Email", "X-Tokenjar-User"}

// gatewayCaller authenticates a gateway request and resolves who it bills.
func (s *Server) gatewayCaller(c *fiber.Ctx) (core.Principal, core.GatewayCaller, *wire.Error) {
	key, ok := gatewayKey(func(k string) string { return c.Get(k) })
	if !ok {
		return core.Principal{}, core.GatewayCaller{}, wire.Unauthorized("Send a tokenjar personal token as the API key (Authorization: Bearer tj_pat_…, or x-api-key).")
	}
	ctx := c.UserContext()
	p, err := s.svc.AuthenticateBearer(ctx, key)
	if err != nil {
		if core.ErrorCode(err) == core.EUNAUTHORIZED {
			return p, core.GatewayCaller{}, wire.Unauthorized("Invalid or revoked API key.")
		}
		return p, core.GatewayCaller{}, s.wireError(err)
	}
	p.IP = c.IP()
	named := ""
	for _, h := range namedMemberHeaders {
		if v := strings.TrimSpace(c.Get(h)); v != "" {
			named = v
			break
		}
	}
	caller, err := s.svc.GatewayCallerOf(ctx, p, named)
	if err != nil {
		return p, caller, s.wireError(err)
	}
	if wait, ok := s.svc.GatewayRateCheck(caller); !ok {
		return p, caller, wire.RateLimited("Too many requests this minute; wait a little and try again.", int((wait+time.Second-1)/time.Second))
	}
	return p, caller, nil
}

// gatewayModels answers GET /v1/models: the models the caller may use, in OpenAI's list format.
func (s *Server) gatewayModels(c *fiber.Ctx) error {
	_, caller, werr := s.gatewayCaller(c)
	if werr != nil {
		return sendWire(c, wire.OpenAI, werr)
	}
	ctx := c.UserContext()
	routes, err := s.gatewayRoutes(ctx)
	if err != nil {
		return sendWire(c, wire.OpenAI, s.wireError(err))
	}
	book, err := s.svc.PriceBook(ctx)
	if err != nil {
		return sendWire(c, wire.OpenAI, s.wireError(err))
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	seen := map[string]bool{}
	data := []model{}
	for _, r := range routes {
		for _, m := range s.gwModels.models(ctx, r.cfg, r.client) {
			if strings.Contains(m, "*") || seen[strings.ToLower(m)] || !caller.MayUse(m) {
				continue
			}
			if _, _, priced := book.Lookup(m); !priced && !r.cfg.Free {
				continue
			}
			seen[strings.ToLower(m)] = true
			data = append(data, model{ID: m, Object: "model", OwnedBy: r.cfg.Name})
		}
	}
	sort.Slice(data, func(i, j int) bool { return data[i].ID < data[j].ID })
	return c.JSON(fiber.Map{"object": "list", "data": data})
}

// gateway serves one POST route of endpoint e.
func (s *Server) gateway(c *fiber.Ctx, e wire.Endpoint) error {
	f := e.Format()
	start := time.Now()
	p, caller, werr := s.gatewayCaller(c)
	if werr != nil {
		return sendWire(c, f, werr)
	}
	if s.billing == nil {
		return sendWire(c, f, &wire.Error{Status: 503, Message: "The AI gateway is not set up on this tokenjar yet."})
	}
	req, err := wire.ParseRequest(e, c.Body())
	if err != nil {
		return sendWire(c, f, wire.BadRequest(err.Error(), wire.Param(err)))
	}
	if !caller.MayUse(req.Model) {
		return sendWire(c, f, wire.Forbidden("You may not use "+req.Model+" here: it is not among the models your key or your allowance allows."))
	}
	ctx := c.UserContext()
	routes, err := s.gatewayRoutes(ctx)
	if err != nil {
		return sendWire(c, f, s.wireError(err))
	}
	rt, ok := s.routeModel(ctx, routes, req.Model, f)
	if !ok {
		if _, elsewhere := s.routeModel(ctx, routes, req.Model, 0); elsewhere {
			return sendWire(c, f, wire.ModelNotFound("The model "+req.Model+" is served here through the other API ("+otherRoute(f)+"), not this one."))
		}
		return sendWire(c, f, wire.ModelNotFound("No AI provider set up here serves the model "+req.Model+"."))
	}
	book, err := s.svc.PriceBook(ctx)
	if err != nil {
		return sendWire(c, f, s.wireError(err))
	}
	price, _, priced := book.Lookup(req.Model)
	if !priced {
		if !rt.cfg.Free {
			return sendWire(c, f, wire.ModelNotFound("The model "+req.Model+" has no price yet, so it cannot be used; an admin can set one under AI providers."))
		}
		price = core.Price{Model: req.Model}
	}
	call := gatewayCall(req, caller, rt.cfg, price)
	holdCtx, holdCancel := context.WithTimeout(ctx, settleTimeout)
	hold, err := s.billing.HoldGatewayCall(holdCtx, p, call)
	holdCancel()
	if err != nil {
		return sendWire(c, f, s.wireError(err))
	}
	g := &gatewayRequest{s: s, e: e, p: p, call: call, hold: hold, start: start}
	// From here the hold is released or settled exactly once, whatever happens.
	defer g.finish()
	if hold.Lowered && e != wire.Embeddings && e != wire.ImageGenerations {
		perChoice := hold.OutputTokens
		if e == wire.ChatCompletions && req.N > 1 {
			perChoice /= req.N
		}
		setOutputCap(req, rt.cfg, perChoice)
	}
	clientAsked := req.IncludeUsage
	if req.Stream && rt.client.InjectIncludeUsage() {
		clientAsked = req.EnsureIncludeUsage()
	}
	body, err := req.Body()
	if err != nil {
		return sendWire(c, f, wire.BadRequest("The request body could not be forwarded.", ""))
	}
	upCtx, cancel := context.WithCancel(context.Background())
	resp, err := rt.client.Do(upCtx, e, body, clientHeaders(c))
	if err != nil {
		cancel()
		var ue *providers.UnreachableError
		switch {
		case providers.IsTimeout(err):
			return sendWire(c, f, wire.Timeout("The AI provider "+rt.cfg.Name+" did not answer in time; nothing was charged."))
		case errors.As(err, &ue):
			return sendWire(c, f, wire.BadGateway("The AI provider "+rt.cfg.Name+" could not be reached; nothing was charged."))
		}
		return sendWire(c, f, wire.BadGateway("The AI provider "+rt.cfg.Name+" failed; nothing was charged."))
	}
	if !resp.OK() {
		cancel()
		ct := resp.Header.Get("Content-Type")
		if ct == "" {
			ct = fiber.MIMEApplicationJSON
		}
		c.Set(fiber.HeaderContentType, ct)
		return c.Status(resp.Status).Send(resp.ErrorBody())
	}
	if !req.Stream {
		defer cancel()
		defer resp.Body.Close()
		reply, err := io.ReadAll(io.LimitReader(resp.Body, maxPlainReply+1))
		switch {
		case providers.IsTimeout(err):
			return sendWire(c, f, wire.Timeout("The AI provider "+rt.cfg.Name+" did not finish its reply in time; nothing was charged."))
		case err != nil || len(reply) > maxPlainReply:
			return sendWire(c, f, wire.BadGateway("The AI provider "+rt.cfg.Name+" sent a broken reply; nothing was charged."))
		}
		u, ok := wire.ReplyUsage(e, reply)
		g.settle(req, u, ok, int64(len(reply)))
		ct := resp.Header.Get("Content-Type")
		if ct == "" {
			ct = fiber.MIMEApplicationJSON
		}
		c.Set(fiber.HeaderContentType, ct)
		return c.Status(resp.Status).Send(reply)
	}
	// A stream: the writer runs after this handler returns and takes the hold over.
	stream := *g
	g.done = true
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	c.Status(resp.Status)
	drop := !clientAsked
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		// This runs in a goroutine of its own: a panic here must not end the process.
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("gateway stream failed", "panic", r)
			}
		}()
		defer stream.finish()
		defer cancel()
		defer resp.Body.Close()
		// On shutdown a stream still running is ended in time for its settle to reach the
		// database before the server's 10 s wait is over.
		relayed := make(chan struct{})
		defer close(relayed)
		go func() {
			select {
			case <-s.done:
				select {
				case <-time.After(shutdownStreamGrace):
					cancel()
				case <-relayed:
				}
			case <-relayed:
			}
		}()
		m := wire.NewStreamMeter(e, drop)
		var grace *time.Timer
		res := wire.Relay(w, w.Flush, resp.Body, m, func() { grace = time.AfterFunc(clientGoneGrace, cancel) })
		if grace != nil {
			grace.Stop()
		}
		if res.UpstreamErr != nil && !res.ClientGone && m.ErrorEvent() == nil {
			we := wire.BadGateway("The AI provider " + rt.cfg.Name + " broke off the reply.")
			if providers.IsTimeout(res.UpstreamErr) {
				we = wire.Timeout("The AI provider " + rt.cfg.Name + " fell silent mid-reply.")
			}
			_, _ = w.Write(we.StreamEvent(f))
			_ = w.Flush()
		}
		u, ok := m.Usage()
		stream.settle(req, u, ok, m.StreamedTextBytes())
	})
	return nil
}

func otherRoute(f wire.Format) string {
	if f == wire.Anthropic {
		return "OpenAI's, /v1/chat/completions"
	}
	return "Anthropic's, /v1/messages"
}

// gatewayCall is what the domain is told of a request before it is forwarded.
func gatewayCall(req *wire.Request, caller core.GatewayCaller, cfg core.AIProviderConfig, price core.Price) core.GatewayCall {
	e := req.Endpoint
	in := req.Input()
	est := core.EstimateInputTokens(core.EstimateInput{Texts: in.Texts, Messages: in.Messages, Images: in.Images,
		TokenIDs: in.TokenIDs, Tools: in.Tools}, req.Model)
	if in.Unbounded != "" {
		est = max(est, cmp.Or(price.ContextWindow, unboundedInput))
	}
	hold := core.HoldRequest{InputTokens: est, CacheMarks: core.CacheMarksOf(in.CacheControl)}
	switch e {
	case wire.Embeddings:
	case wire.ImageGenerations:
		hold.Images, hold.ImageSize, hold.ImageQuality = req.N, req.ImageSize, req.ImageQuality
		hold.OutputTokens = price.MaxOutput * req.N
	default:
		out := req.MaxTokens
		if !req.MaxTokensSet {
			out = price.MaxOutput
			if out <= 0 {
				out = defaultOutputCap
			}
			// The hold needs a bound the provider keeps: name it (a free provider costs
			// nothing, so its replies are left unbounded as the client asked).
			if !cfg.Free {
				setOutputCap(req, cfg, out)
			}
		}
		if e == wire.ChatCompletions && req.N > 1 {
			out *= req.N
		}
		hold.OutputTokens = out
	}
	return core.GatewayCall{MemberID: caller.MemberID, AppID: caller.AppID, Delegation: caller.Delegation,
		Model: req.Model, Provider: cfg.Name, Free: cfg.Free, Price: price, Hold: hold,
		MinOutputTokens: min(minUsefulOutput, hold.OutputTokens), UsageType: e.UsageType(), Modality: e.Modality()}
}

// setOutputCap sets the output cap to forward; an openai-compatible server is sent max_tokens,
// the field every such server knows.
func setOutputCap(req *wire.Request, cfg core.AIProviderConfig, n int64) {
	if providers.Kind(cfg.Kind) == providers.OpenAICompatible && req.Endpoint == wire.ChatCompletions {
		req.SetMaxTokensField("max_tokens", n)
		return
	}
	req.SetMaxTokens(n)
}

// clientHeaders are the client's headers the provider client may pass on (Anthropic's version
// and betas).
func clientHeaders(c *fiber.Ctx) http.Header {
	h := http.Header{}
	for _, k := range []string{"anthropic-version", "anthropic-beta"} {
		if v := c.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h
}

// gatewayRequest is one held request until its hold is settled or released.
type gatewayRequest struct {
	s     *Server
	e     wire.Endpoint
	p     core.Principal
	call  core.GatewayCall
	hold  core.GatewayHold
	start time.Time
	done  bool
}

// settleTimeout bounds the domain's settle or release of a hold.
const settleTimeout = 30 * time.Second

// settle turns the hold into the charge for usage u (ok: reported by the provider; else
// estimated from replyBytes of streamed text or reply).
func (g *gatewayRequest) settle(req *wire.Request, u wire.Usage, ok bool, replyBytes int64) {
	if g.done {
		return
	}
	g.done = true
	mu := core.ModelUsage{InputTokens: u.InputTokens, CachedInputTokens: u.CachedInputTokens, CacheWriteTokens: u.CacheWriteTokens,
		CacheWrite1hTokens: u.CacheWrite1hTokens, OutputTokens: u.OutputTokens, ReasoningTokens: u.ReasoningTokens, Images: u.Images}
	if g.e == wire.ImageGenerations {
		mu.ImageSize, mu.ImageQuality = req.ImageSize, req.ImageQuality
	}
	if !ok {
		mu = core.ModelUsage{InputTokens: g.call.Hold.InputTokens, OutputTokens: core.EstimateOutputTokens(replyBytes),
			Images: max(u.Images, 0), ImageSize: mu.ImageSize, ImageQuality: mu.ImageQuality}
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	_, err := g.s.billing.SettleGatewayCall(ctx, g.hold, g.call, core.GatewayUsage{Usage: mu, Estimated: !ok,
		ProcessingTimeMs: time.Since(g.start).Milliseconds()})
	if err != nil {
		g.s.log.Error("gateway settle failed", "member", g.call.MemberID, "model", g.call.Model, "hold", g.hold.ID, "err", err)
	}
}

// finish releases the hold when nothing settled it.
func (g *gatewayRequest) finish() {
	if g.done {
		return
	}
	g.done = true
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := g.s.billing.ReleaseGatewayCall(ctx, g.hold); err != nil {
		g.s.log.Error("gateway release failed", "member", g.call.MemberID, "hold", g.hold.ID, "err", err)
	}
}

// gatewayError answers an error raised outside the gateway's handlers (a body over the limit,
// a compressed body, a panic) on a gateway path, in the route's wire format.
func (s *Server) gatewayError(c *fiber.Ctx, err error) error {
	f := formatOfPath(c.Path())
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch {
		case fe.Code == fiber.StatusRequestEntityTooLarge:
			return sendWire(c, f, wire.TooLarge("The request body is too large: at most 4 MiB with a valid key, 64 KiB without."))
		case fe.Code < 500:
			return sendWire(c, f, &wire.Error{Status: fe.Code, Message: fe.Message})
		}
	}
	if ce := core.AsError(err); ce != nil {
		return sendWire(c, f, s.wireError(err))
	}
	s.log.Error("gateway request failed", "path", c.Path(), "err", err)
	return sendWire(c, f, wire.Internal("Something went wrong in tokenjar."))
}

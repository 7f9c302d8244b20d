package core

// The gateway's billing contract: the HTTP layer (server/gateway*.go) asks the domain to hold
// a request's worst-case cost before forwarding it, and to settle or release the hold when the
// request ends. Every money rule (the order of sources, split charges, what "fits") lives
// behind these types in the domain; the proxy code only fills them in.
//
//	hold, err := svc.HoldGatewayCall(ctx, p, call)   // 402 (EPAYMENT) when nothing useful fits
//	... forward with hold.OutputTokens as the output cap ...
//	res, err := svc.SettleGatewayCall(ctx, hold, call, usage) // or ReleaseGatewayCall(ctx, hold)

// EPAYMENT: the caller's spending power does not cover the request (HTTP 402). The message says,
// in words a child understands, what ran out and when it refills.
const EPAYMENT = "payment_required"

// GatewayCall is what the gateway knows of a request before forwarding it.
type GatewayCall struct {
	MemberID int64 // the member billed: the token's owner, or the member an app key names
	AppID    int64 // the app whose key made the request; 0 for a personal token (app "gateway")
	// Delegation: a token bound to an allowance bills only that allowance; 0 means the usual
	// order of SPEC section 5 (the member's allowances, then their own credits).
	Delegation int64
	Model      string
	Provider   string // the provider's name, stored on the event
	Free       bool   // a free provider (local server): metered in tokens, charged 0
	Price      Price
	Hold       HoldRequest // input estimate, output cap (max_tokens), images
	// MinOutputTokens is the smallest output cap still worth forwarding when the hold must be
	// lowered to fit; below it the request is refused with 402.
	MinOutputTokens int64
	UsageType       string // token_usage, embedding, image
	Modality        string // text, image, ...
}

// GatewayHold is money set aside for one request until it ends.
type GatewayHold struct {
	ID       int64
	MemberID int64
	Credits  Credits // what is held, in millicredits
	// OutputTokens is the output cap to forward: the request's own, or lowered to fit.
	OutputTokens int64
	Lowered      bool // OutputTokens is below what the request asked for
}

// GatewayUsage is how a request ended.
type GatewayUsage struct {
	Usage            ModelUsage
	Estimated        bool // the stream was cut before the provider's usage arrived
	ProcessingTimeMs int64
}

package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"tokenjar/db"
)

// Who may use the AI gateway, and which models (SPEC section 10, "Who may use what"). The
// handlers ask GatewayCallerOf who a request bills, then MayUse for each model and
// GatewayRateCheck once per request; the rules live here, not in the proxy code.

// GatewayCaller is the member a gateway request bills and what they may use.
type GatewayCaller struct {
	MemberID int64
	AppID    int64 // the app whose key made the request (0: a personal token)
	// Delegation is the allowance the key or token is bound to (0: none).
	Delegation int64
	// MemberModels is the member's own allowed-models list, DelegationModels the bound
	// allowance's models: `*` globs; an empty list allows any model.
	MemberModels, DelegationModels []string
	// RPM is the member's gateway requests-per-minute limit (0: none).
	RPM int64
}

// MayUse tells whether the caller may use model: it must match every list that is set.
func (c GatewayCaller) MayUse(model string) bool {
	for _, list := range [][]string{c.MemberModels, c.DelegationModels} {
		if len(list) > 0 && !matchesAny(list, model) {
			return false
		}
	}
	return true
}

func matchesAny(globs []string, model string) bool {
	for _, g := range globs {
		if GlobMatch(g, model) {
			return true
		}
	}
	return false
}

// GlobMatch matches name against pattern, where `*` stands for any run of characters
// (`claude-*-haiku*`); case does not matter. No other character is special.
func GlobMatch(pattern, name string) bool {
	p, n := strings.ToLower(pattern), strings.ToLower(name)
	// Iterative match with backtracking to the last star: linear enough for model names.
	pi, ni, star, mark := 0, 0, -1, 0
	for ni < len(n) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case pi < len(p) && p[pi] == n[ni]:
			pi++
			ni++
		case star >= 0:
			pi = star + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// GatewayCallerOf resolves who a gateway request bills. p is the authenticated key; named is the
// member an X-OpenWebUI-User-Email or X-Tokenjar-User header names ("" when none). A personal
// token bills its owner (and may only name them); an app key bills the member it names, only
// when an admin allowed the app to name members.
func (s *Service) GatewayCallerOf(ctx context.Context, p Principal, named string) (GatewayCaller, error) {
	named = strings.TrimSpace(named)
	r := s.db.Read()
	c := GatewayCaller{Delegation: p.BoundDelegation}
	switch p.Via {
	case ViaToken:
		c.MemberID = p.UserID
		if named != "" {
			u, err := s.namedMember(ctx, named)
			if err != nil || u.ID != p.UserID {
				return c, Errorf(EFORBIDDEN, "A personal token bills its own member and cannot name another one; use an app key an admin allowed to name members.")
			}
		}
	case ViaAppKey:
		c.AppID = p.AppID
		allowed, err := r.AppNamesMembers(ctx, p.AppID)
		if errors.Is(err, db.ErrNotFound) {
			return c, Errorf(EUNAUTHORIZED, "invalid or revoked key")
		} else if err != nil {
			return c, err
		}
		if !allowed {
			return c, Errorf(EFORBIDDEN, "This app key may not use the AI gateway for members: an admin can allow the app to name members, or use a member's personal token.")
		}
		if named == "" {
			return c, Errorf(EUNAUTHORIZED, "Name the member with the X-OpenWebUI-User-Email or X-Tokenjar-User header.")
		}
		u, err := s.namedMember(ctx, named)
		if err != nil {
			return c, err
		}
		c.MemberID = u.ID
	default:
		return c, Errorf(EUNAUTHORIZED, "Use a personal token as the API key.")
	}
	g, err := r.MemberGatewayByID(ctx, c.MemberID)
	if errors.Is(err, db.ErrNotFound) {
		return c, Errorf(EUNAUTHORIZED, "invalid or revoked key")
	} else if err != nil {
		return c, err
	}
	c.MemberModels, c.RPM = nameList(g.Models), g.RPM
	if c.Delegation != 0 {
		d, err := r.DelegationByID(ctx, c.Delegation)
		if errors.Is(err, db.ErrNotFound) {
			return c, Errorf(EUNAUTHORIZED, "the allowance this key is bound to no longer exists")
		} else if err != nil {
			return c, err
		}
		if d.GranteeID != c.MemberID {
			// An app key bound to one member's allowance cannot bill someone else with it.
			return c, Errorf(EFORBIDDEN, "This key is bound to an allowance of another member.")
		}
		c.DelegationModels = nameList(d.Models)
	}
	return c, nil
}

// namedMember finds the enabled member a header names by email or id.
func (s *Service) namedMember(ctx context.Context, named string) (db.User, error) {
	r := s.db.Read()
	var u db.User
	var err error
	if id, perr := strconv.ParseInt(named, 10, 64); perr == nil && id > 0 {
		u, err = r.UserByID(ctx, id)
	} else {
		u, err = r.UserByEmail(ctx, strings.ToLower(named))
	}
	if errors.Is(err, db.ErrNotFound) || (err == nil && u.Disabled) {
		return u, Errorf(EUNAUTHORIZED, "The member this request names is not a member here (or is disabled).")
	}
	return u, err
}

// SetAppNamesMembers allows or forbids an app's keys to name the member each gateway request
// bills (admins only).
func (s *Service) SetAppNamesMembers(ctx context.Context, p Principal, appID int64, v bool) error {
	if err := p.requireAdmin(); err != nil {
		return err
	}
	err := s.db.Update(ctx, func(c *db.Conn) error {
		if _, err := c.AppByID(ctx, appID); errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no app %d", appID)
		} else if err != nil {
			return err
		}
		if err := c.SetAppNamesMembers(ctx, appID, v); err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "app_names_members", fmt.Sprintf("app %d", appID), p.IP, strconv.FormatBool(v))
	})
	s.changed(cacheKeys)
	return err
}

// MemberGatewayAccess is a member's gateway settings as the admin API shows them.
type MemberGatewayAccess struct {
	AllowedModels     []string `json:"allowedModels"`
	RequestsPerMinute int64    `json:"requestsPerMinute"`
}

// SetMemberGatewayAccess changes a member's allowed-models list (globs; empty: any model) and
// requests-per-minute limit (0: none); a nil field is left as it is (admins only).
func (s *Service) SetMemberGatewayAccess(ctx context.Context, p Principal, id int64, models *[]string, rpm *int64) (MemberGatewayAccess, error) {
	if err := p.requireAdmin(); err != nil {
		return MemberGatewayAccess{}, err
	}
	var out MemberGatewayAccess
	err := s.db.Update(ctx, func(c *db.Conn) error {
		g, err := c.MemberGatewayByID(ctx, id)
		if errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no such member")
		} else if err != nil {
			return err
		}
		if models != nil {
			if len(*models) > 100 {
				return Invalid("allowedModels", "at most 100 models")
			}
			clean := []string{}
			for _, m := range *models {
				m = strings.TrimSpace(m)
				if m == "" || len(m) > 100 {
					return Invalid("allowedModels", "model names must be 1 to 100 characters")
				}
				clean = append(clean, m)
			}
			b, _ := json.Marshal(clean)
			g.Models = string(b)
		}
		if rpm != nil {
			if *rpm < 0 || *rpm > 1_000_000 {
				return Invalid("requestsPerMinute", "requestsPerMinute must be 0 (no limit) to 1000000")
			}
			g.RPM = *rpm
		}
		if err := c.SetMemberGateway(ctx, id, g); err != nil {
			return err
		}
		out = MemberGatewayAccess{AllowedModels: nameList(g.Models), RequestsPerMinute: g.RPM}
		if out.AllowedModels == nil {
			out.AllowedModels = []string{}
		}
		u, err := c.UserByID(ctx, id)
		if err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "member_gateway_access", memberTarget(u.Name, u.Email), p.IP, "")
	})
	return out, err
}

// gatewayRates is the per-member sliding window of gateway requests (in memory: a restart
// forgets it, which at worst lets a minute's requests through twice).
type gatewayRates struct {
	mu sync.Mutex
	m  map[int64][]time.Time
}

var rateWindow = time.Minute

// GatewayRateCheck counts one request of the caller against their requests-per-minute limit. When
// the limit is reached it counts nothing and says how long until a request fits again.
func (s *Service) GatewayRateCheck(c GatewayCaller) (retryAfter time.Duration, ok bool) {
	if c.RPM <= 0 {
		return 0, true
	}
	return s.gwRates.check(c.MemberID, c.RPM, s.clock.Now())
}

func (g *gatewayRates) check(member, limit int64, now time.Time) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[int64][]time.Time{}
	}
	if len(g.m) > 100_000 { // bounded memory; a reset only forgives a minute
		clear(g.m)
	}
	w := g.m[member]
	i := 0
	for i < len(w) && !w[i].After(now.Add(-rateWindow)) {
		i++
	}
	w = w[i:]
	if int64(len(w)) >= limit {
		g.m[member] = w
		return w[0].Add(rateWindow).Sub(now), false
	}
	g.m[member] = append(w, now)
	return 0, true
}

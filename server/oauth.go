package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gofiber/fiber/v2"
	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/github"
	"github.com/markbates/goth/providers/google"

	"tokenjar/server/core"
)

// This file adapts goth to Fiber. goth's gothic helper is net/http only, so the server drives
// goth's providers itself: BeginAuth → redirect, then Authorize + FetchUser on the callback.
// The in-flight state lives in the database (core.StartSignInFlow), so the callback may reach
// any replica, keyed by a random state that is also set in an HttpOnly cookie, so a callback
// only completes in the browser that started it.

const oauthCookie = "tj_oauth"
const oauthTTL = core.SignInFlowTTL

// providerCache keeps built goth providers: building the OIDC one fetches its discovery document.
type providerCache struct {
	mu sync.Mutex
	m  map[string]goth.Provider
}

func (s *Server) baseURL(c *fiber.Ctx) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimRight(s.cfg.BaseURL, "/")
	}
	scheme := "http"
	if s.secure(c) {
		scheme = "https"
	}
	return scheme + "://" + c.Hostname()
}

// gothProvider builds (or reuses) the goth provider for a configured sign-in provider.
func (s *Server) gothProvider(c *fiber.Ctx, id string) (goth.Provider, core.ProviderConfig, error) {
	cfgs, err := s.svc.Providers(c.UserContext())
	if err != nil {
		return nil, core.ProviderConfig{}, err
	}
	var pc core.ProviderConfig
	for _, p := range cfgs {
		if p.ID == id && p.Configured {
			pc = p
		}
	}
	if pc.ID == "" {
		return nil, pc, core.Errorf(core.ENOTFOUND, "sign-in with %q is not set up on this instance", id)
	}
	callback := s.baseURL(c) + "/api/v1/auth/" + id + "/callback"
	key := strings.Join([]string{id, pc.ClientID, pc.ClientSecret, pc.DiscoveryURL, pc.Tenant, callback}, "\x00")
	s.gothCache.mu.Lock()
	defer s.gothCache.mu.Unlock()
	if p, ok := s.gothCache.m[key]; ok {
		return p, pc, nil
	}
	var p goth.Provider
	switch id {
	case "google":
		p = google.New(pc.ClientID, pc.ClientSecret, callback, "email", "profile")
	case "github":
		p = github.New(pc.ClientID, pc.ClientSecret, callback, "read:user", "user:email")
	case "microsoft":
		discovery := pc.DiscoveryURL // only to reach another Microsoft cloud, or a test double
		if discovery == "" {
			tenant := strings.TrimSpace(pc.Tenant)
			if tenant == "" {
				tenant = "common"
			}
			discovery = "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/v2.0" + discoverySuffix
		}
		op, err := newOIDCProvider(c.UserContext(), id, pc.ClientID, pc.ClientSecret, callback, discovery, []string{oidc.ScopeOpenID, "profile", "email"}, microsoftIssuer)
		if err != nil {
			s.log.Error("Microsoft discovery failed", "url", discovery, "err", err)
			return nil, pc, core.Errorf(core.EUNAUTHORIZED, "%s cannot be reached right now; try again, or sign in with a password", pc.Name)
		}
		p = op
	case "oidc":
		op, err := newOIDCProvider(c.UserContext(), id, pc.ClientID, pc.ClientSecret, callback, pc.DiscoveryURL, []string{oidc.ScopeOpenID, "email", "profile"}, nil)
		if err != nil {
			s.log.Error("OpenID Connect discovery failed", "url", pc.DiscoveryURL, "err", err)
			return nil, pc, core.Errorf(core.EUNAUTHORIZED, "%s cannot be reached right now; try again, or sign in with a password", pc.Name)
		}
		p = op
	}
	s.gothCache.m[key] = p
	return p, pc, nil
}

func (s *Server) providers(c *fiber.Ctx) error {
	cfgs, err := s.svc.Providers(c.UserContext())
	if err != nil {
		return err
	}
	out := []fiber.Map{}
	for _, p := range cfgs {
		if p.Configured {
			out = append(out, fiber.Map{"id": p.ID, "name": p.Name})
		}
	}
	return c.JSON(out)
}

// safeNext keeps post-sign-in redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/api/") {
		return "/"
	}
	return next
}

func (s *Server) oauthStart(c *fiber.Ctx) error {
	id := c.Params("provider")
	p, _, err := s.gothProvider(c, id)
	if err != nil {
		return s.loginError(c, err)
	}
	b := make([]byte, 24)
	rand.Read(b)
	state := hex.EncodeToString(b)
	sess, err := p.BeginAuth(state)
	if err != nil {
		return err
	}
	authURL, err := sess.GetAuthURL()
	if err != nil {
		return err
	}
	flow := core.SignInFlow{Provider: id, Session: sess.Marshal(), Invite: c.Query("invite"), Next: safeNext(c.Query("next"))}
	if err := s.svc.StartSignInFlow(c.UserContext(), state, flow); err != nil {
		return s.loginError(c, err)
	}
	c.Cookie(&fiber.Cookie{Name: oauthCookie, Value: state, Path: "/api/v1/auth/", MaxAge: int(oauthTTL.Seconds()), HTTPOnly: true, SameSite: "Lax", Secure: s.secure(c)})
	return c.Redirect(authURL, fiber.StatusFound)
}

// loginError sends the browser back to the sign-in page with a readable message.
func (s *Server) loginError(c *fiber.Ctx, err error) error {
	msg := "sign-in failed; try again"
	if ce, ok := err.(*core.Error); ok {
		msg = ce.Message
	} else {
		s.log.Error("provider sign-in failed", "provider", c.Params("provider"), "err", err)
	}
	return c.Redirect("/login?error="+url.QueryEscape(msg), fiber.StatusFound)
}

func (s *Server) oauthCallback(c *fiber.Ctx) error {
	id := c.Params("provider")
	state := c.Query("state")
	cookie := c.Cookies(oauthCookie)
	c.Cookie(&fiber.Cookie{Name: oauthCookie, Value: "", Path: "/api/v1/auth/", MaxAge: -1, HTTPOnly: true, SameSite: "Lax"})
	if state == "" || cookie == "" || state != cookie {
		s.svc.AuditFailedSignin(c.UserContext(), id, c.IP(), "state does not match this browser")
		return s.loginError(c, core.Errorf(core.EUNAUTHORIZED, "this sign-in link is not from this browser or has expired; start again"))
	}
	fl, ok, err := s.svc.TakeSignInFlow(c.UserContext(), state)
	if err != nil {
		return s.loginError(c, err)
	}
	if !ok || fl.Provider != id {
		s.svc.AuditFailedSignin(c.UserContext(), id, c.IP(), "unknown or expired state")
		return s.loginError(c, core.Errorf(core.EUNAUTHORIZED, "this sign-in has expired; start again"))
	}
	if e := c.Query("error"); e != "" {
		s.svc.AuditFailedSignin(c.UserContext(), id, c.IP(), "provider said "+e)
		return s.loginError(c, core.Errorf(core.EUNAUTHORIZED, "the provider refused the sign-in (%s)", e))
	}
	p, pc, err := s.gothProvider(c, id)
	if err != nil {
		return s.loginError(c, err)
	}
	sess, err := p.UnmarshalSession(fl.Session)
	if err != nil {
		return s.loginError(c, err)
	}
	params := url.Values{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) { params.Add(string(k), string(v)) })
	if _, err := sess.Authorize(p, params); err != nil {
		s.log.Warn("provider refused the code", "provider", id, "err", err)
		s.svc.AuditFailedSignin(c.UserContext(), id, c.IP(), "code refused")
		return s.loginError(c, core.Errorf(core.EUNAUTHORIZED, "%s did not accept the sign-in code (expired or used); start again", pc.Name))
	}
	user, err := p.FetchUser(sess)
	var bad errIDToken
	if errors.As(err, &bad) {
		s.log.Warn("id_token rejected", "provider", id, "err", err)
		s.svc.AuditFailedSignin(c.UserContext(), id, c.IP(), "id_token: "+err.Error())
		return s.loginError(c, core.Errorf(core.EUNAUTHORIZED, "%s sent an identity that could not be verified", pc.Name))
	}
	if err != nil {
		s.log.Warn("provider user lookup failed", "provider", id, "err", err)
		s.svc.AuditFailedSignin(c.UserContext(), id, c.IP(), "user lookup failed")
		return s.loginError(c, core.Errorf(core.EUNAUTHORIZED, "%s did not say who you are; start again", pc.Name))
	}
	// Read the claims; which of them make the email trustworthy is core's decision.
	claims := core.ProviderClaims{Provider: id, Subject: user.UserID, Email: user.Email, Name: user.Name}
	switch id {
	case "oidc":
		claims.EmailVerified = user.RawData["email_verified"] // from the verified id_token
	case "microsoft":
		claims.TenantID, _ = user.RawData["tid"].(string)
		claims.ObjectID, _ = user.RawData["oid"].(string)
		claims.EmailDomainVerified = user.RawData["xms_edov"]
		claims.ConfiguredTenant = pc.Tenant
	case "google":
		claims.EmailVerified = user.RawData["verified_email"]
		if claims.EmailVerified == nil {
			claims.EmailVerified = user.RawData["email_verified"]
		}
	case "github":
		// goth returns the profile's public email when there is one, and only otherwise the
		// verified primary; ask GitHub whether the address it returned is verified.
		claims.EmailVerified = s.githubVerified(c.UserContext(), user.AccessToken, user.Email)
	}
	_, sid, session, err := s.svc.SignInWithProvider(c.UserContext(), claims, fl.Invite, c.IP())
	if err != nil {
		return s.loginError(c, err)
	}
	s.setSessionCookies(c, sid, session)
	return c.Redirect(fl.Next, fiber.StatusFound)
}

// githubVerified tells whether email is one of the GitHub account's verified addresses, from
// GitHub's list of the account's emails (scope user:email). Any failure counts as unverified.
func (s *Server) githubVerified(ctx context.Context, accessToken, email string) bool {
	if email == "" || accessToken == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", github.EmailURL, nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := oidcHTTP.Do(req)
	if err != nil {
		s.log.Warn("GitHub email lookup failed", "err", err)
		return false
	}
	defer resp.Body.Close()
	var emails []struct {
		Email    string `json:"email"`
		Verified bool   `json:"verified"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&emails) != nil {
		s.log.Warn("GitHub email lookup failed", "status", resp.StatusCode)
		return false
	}
	for _, e := range emails {
		if e.Verified && strings.EqualFold(e.Email, email) {
			return true
		}
	}
	return false
}

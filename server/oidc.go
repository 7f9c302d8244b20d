package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/markbates/goth"
	"golang.org/x/oauth2"
)

// oidcProvider is a goth.Provider for OpenID Connect sign-in, used for the generic OIDC
// provider and for Microsoft. goth's own openidConnect provider does not check the id_token's
// signature, merges the unsigned userinfo answer over the token's claims, and cannot check a
// multi-tenant Microsoft issuer; this one verifies the id_token with go-oidc (signature against
// the provider's JWKS, refetched when the key id is new; issuer; audience; expiry) and returns
// only claims that passed.
type oidcProvider struct {
	name     string
	client   *http.Client
	config   oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	// issuer, when set, replaces go-oidc's exact issuer check (Microsoft's multi-tenant
	// endpoints publish the issuer template https://login.microsoftonline.com/{tenantid}/v2.0).
	issuer func(iss string, claims map[string]any) error
	// userinfo: when the id_token carries no email, ask the userinfo endpoint (TLS, access
	// token; its sub must match the token's).
	userinfo bool
}

const discoverySuffix = "/.well-known/openid-configuration"

// oidcHTTP is the client for discovery, keys, code exchange and userinfo.
var oidcHTTP = &http.Client{Timeout: 10 * time.Second}

// newOIDCProvider discovers a provider from its discovery URL. The issuer it publishes must be
// the discovery URL without /.well-known/openid-configuration, as the spec requires, unless
// multiTenantIssuer checks the issuer of each token instead.
func newOIDCProvider(ctx context.Context, name, clientID, secret, callback, discoveryURL string, scopes []string,
	multiTenantIssuer func(template string) func(string, map[string]any) error) (*oidcProvider, error) {
	base, ok := strings.CutSuffix(strings.TrimSpace(discoveryURL), discoverySuffix)
	if !ok {
		return nil, fmt.Errorf("the discovery URL %q does not end in %s", discoveryURL, discoverySuffix)
	}
	ctx = oidc.ClientContext(ctx, oidcHTTP)
	if multiTenantIssuer != nil {
		ctx = oidc.InsecureIssuerURLContext(ctx, base) // checked per token by p.issuer
	}
	op, err := oidc.NewProvider(ctx, base)
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) && mismatch.Discovered == base+"/" {
		// Authentik's issuers end in a slash; both spellings have the same discovery URL, and
		// the issuer is still matched exactly, in discovery and in every token.
		op, err = oidc.NewProvider(ctx, base+"/")
	}
	if err != nil {
		return nil, err
	}
	p := &oidcProvider{name: name, client: oidcHTTP, provider: op, userinfo: multiTenantIssuer == nil,
		config: oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: callback, Endpoint: op.Endpoint(), Scopes: scopes}}
	cfg := &oidc.Config{ClientID: clientID}
	if multiTenantIssuer != nil {
		var doc struct {
			Issuer string `json:"issuer"`
		}
		if err := op.Claims(&doc); err != nil || doc.Issuer == "" {
			return nil, errors.New("the discovery document has no issuer")
		}
		p.issuer = multiTenantIssuer(doc.Issuer)
		cfg.SkipIssuerCheck = true
	}
	p.verifier = op.Verifier(cfg)
	return p, nil
}

func (p *oidcProvider) Name() string                { return p.name }
func (p *oidcProvider) SetName(name string)         { p.name = name }
func (p *oidcProvider) Debug(bool)                  {}
func (p *oidcProvider) RefreshTokenAvailable() bool { return false }
func (p *oidcProvider) RefreshToken(string) (*oauth2.Token, error) {
	return nil, errors.New("not used")
}

// oidcSession is the in-flight sign-in, kept server side between start and callback.
type oidcSession struct {
	AuthURL     string
	AccessToken string
	IDToken     string
}

func (s *oidcSession) GetAuthURL() (string, error) { return s.AuthURL, nil }
func (s *oidcSession) Marshal() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Authorize exchanges the code for tokens. Only the code is taken from the callback's query:
// the redirect URI is always the configured one.
func (s *oidcSession) Authorize(provider goth.Provider, params goth.Params) (string, error) {
	p := provider.(*oidcProvider)
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), p.client), 15*time.Second)
	defer cancel()
	tok, err := p.config.Exchange(ctx, params.Get("code"))
	if err != nil {
		return "", err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", errors.New("the token answer has no id_token")
	}
	s.AccessToken, s.IDToken = tok.AccessToken, raw
	return tok.AccessToken, nil
}

func (p *oidcProvider) BeginAuth(state string) (goth.Session, error) {
	return &oidcSession{AuthURL: p.config.AuthCodeURL(state)}, nil
}

func (p *oidcProvider) UnmarshalSession(data string) (goth.Session, error) {
	s := &oidcSession{}
	return s, json.Unmarshal([]byte(data), s)
}

// errIDToken marks an id_token that failed verification, as opposed to a provider that could
// not be reached.
type errIDToken struct{ err error }

func (e errIDToken) Error() string { return e.err.Error() }

// FetchUser verifies the id_token and returns its claims in RawData. Nothing unverified is
// merged in, except an email from userinfo when the token carries none (generic OIDC only).
func (p *oidcProvider) FetchUser(session goth.Session) (goth.User, error) {
	s := session.(*oidcSession)
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), p.client), 15*time.Second)
	defer cancel()
	tok, err := p.verifier.Verify(ctx, s.IDToken)
	if err != nil {
		return goth.User{}, errIDToken{err}
	}
	claims := map[string]any{}
	if err := tok.Claims(&claims); err != nil {
		return goth.User{}, errIDToken{err}
	}
	if p.issuer != nil {
		if err := p.issuer(tok.Issuer, claims); err != nil {
			return goth.User{}, errIDToken{err}
		}
	}
	if e, _ := claims["email"].(string); e == "" && p.userinfo && p.provider.UserInfoEndpoint() != "" {
		ui, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: s.AccessToken, TokenType: "Bearer"}))
		if err != nil {
			return goth.User{}, err
		}
		if ui.Subject != tok.Subject {
			return goth.User{}, errIDToken{fmt.Errorf("userinfo is about %q, the id_token about %q", ui.Subject, tok.Subject)}
		}
		var extra map[string]any
		if err := ui.Claims(&extra); err == nil {
			claims["email"], claims["email_verified"] = extra["email"], extra["email_verified"]
		}
	}
	email, _ := claims["email"].(string)
	name, _ := claims["name"].(string)
	return goth.User{Provider: p.name, UserID: tok.Subject, Email: email, Name: name, RawData: claims, IDToken: s.IDToken, AccessToken: s.AccessToken}, nil
}

// microsoftIssuer checks a token from Microsoft's multi-tenant endpoints: its iss must be the
// published issuer with {tenantid} replaced by the token's own tid, so a token names the
// tenant that signed it. For a single-tenant endpoint the published issuer has no {tenantid}
// and the token must come from that tenant. This is Microsoft's documented rule for validating
// multi-tenant issuers.
func microsoftIssuer(template string) func(string, map[string]any) error {
	return func(iss string, claims map[string]any) error {
		tid, _ := claims["tid"].(string)
		if tid == "" || strings.ContainsAny(tid, "/{}") {
			return errors.New("the id_token has no tenant id (tid)")
		}
		want := strings.ReplaceAll(template, "{tenantid}", tid)
		if iss != want || !strings.Contains(iss, "/"+tid+"/") {
			return fmt.Errorf("the id_token's issuer %q does not match tenant %q (want %q)", iss, tid, want)
		}
		return nil
	}
}

package server

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOIDC is a small OpenID Connect provider: discovery, token, userinfo and keys. It signs
// id_tokens with an RSA key made in the test. The test plays the browser, so /authorize is
// never visited: the test reads the state from the redirect and calls the callback itself.
type fakeOIDC struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	signWith *rsa.PrivateKey // normally key; another key to forge signatures
	clientID string
	mu       sync.Mutex
	codes    map[string]fakeCode
}

type fakeCode struct {
	sub, email string
	verified   bool
	expires    time.Time
}

func newFakeOIDC(t *testing.T) *fakeOIDC {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeOIDC{key: key, signWith: key, clientID: "tokenjar-test", codes: map[string]fakeCode{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/authorize",
			"token_endpoint": f.srv.URL + "/token", "userinfo_endpoint": f.srv.URL + "/userinfo", "jwks_uri": f.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64(f.key.N.Bytes()), "e": b64(big.NewInt(int64(f.key.E)).Bytes())}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f.mu.Lock()
		code, ok := f.codes[r.Form.Get("code")]
		delete(f.codes, r.Form.Get("code")) // a code works once
		f.mu.Unlock()
		if !ok || time.Now().After(code.expires) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		idToken := f.sign(map[string]any{"iss": f.srv.URL, "aud": f.clientID, "sub": code.sub, "email": code.email,
			"email_verified": code.verified, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + code.sub, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
	})
	mux.HandleFunc("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		sub := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer at-")
		json.NewEncoder(w).Encode(map[string]any{"sub": sub})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOIDC) sign(claims map[string]any) string {
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(p)
	sum := sha256.Sum256([]byte(input))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, f.signWith, crypto.SHA256, sum[:])
	return input + "." + b64(sig)
}

func (f *fakeOIDC) issue(sub, email string, verified bool, ttl time.Duration) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	code := fmt.Sprintf("code-%d", len(f.codes)+int(time.Now().UnixNano()%100000))
	f.codes[code] = fakeCode{sub: sub, email: email, verified: verified, expires: time.Now().Add(ttl)}
	return code
}

// signIn runs start → (provider) → callback as a browser would and returns where it landed.
func (ts *testServer) signInWithProvider(t *testing.T, client *http.Client, f *fakeOIDC, code string, tamperState bool, query string) *url.URL {
	t.Helper()
	noFollow := *client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(ts.url + "/api/v1/auth/oidc/start" + query)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || !strings.HasPrefix(loc.String(), f.srv.URL+"/authorize") {
		t.Fatalf("start: %d → %s", resp.StatusCode, loc)
	}
	state := loc.Query().Get("state")
	if tamperState {
		state = "forged-" + state
	}
	resp, err = noFollow.Get(ts.url + "/api/v1/auth/oidc/callback?state=" + url.QueryEscape(state) + "&code=" + url.QueryEscape(code))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	to, _ := url.Parse(resp.Header.Get("Location"))
	return to
}

func newJarClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func TestOIDCSignIn(t *testing.T) {
	f := newFakeOIDC(t)
	t.Setenv("TOKENJAR_OIDC_DISCOVERY_URL", f.srv.URL+"/.well-known/openid-configuration")
	t.Setenv("TOKENJAR_OIDC_CLIENT_ID", f.clientID)
	t.Setenv("TOKENJAR_OIDC_CLIENT_SECRET", "secret")
	t.Setenv("TOKENJAR_OIDC_NAME", "School SSO")
	ts := newTestServer(t)
	var providers []struct{ ID, Name string }
	ts.do("GET", "/api/v1/auth/providers", "", nil, 200, &providers)
	if len(providers) != 1 || providers[0].ID != "oidc" || providers[0].Name != "School SSO" {
		t.Fatalf("providers: %+v", providers)
	}
	memberID, _ := ts.member("pupil@school.example.org")
	counts := func() string {
		var users, idents, sessions int64
		r := ts.db.Read()
		r.QueryRowForTest(context.Background(), `SELECT count(*) FROM users`, &users)
		r.QueryRowForTest(context.Background(), `SELECT count(*) FROM identities`, &idents)
		r.QueryRowForTest(context.Background(), `SELECT count(*) FROM sessions`, &sessions)
		return fmt.Sprintf("users %d identities %d sessions %d", users, idents, sessions)
	}
	before := counts()
	refused := []struct {
		name   string
		code   string
		tamper bool
		forge  bool
		want   string
	}{
		{"bad state", f.issue("s-1", "pupil@school.example.org", true, time.Minute), true, false, "not from this browser"},
		{"expired code", f.issue("s-1", "pupil@school.example.org", true, -time.Minute), false, false, "did not accept the sign-in code"},
		{"unverified email", f.issue("s-1", "pupil@school.example.org", false, time.Minute), false, false, "has not verified"},
		{"unknown email", f.issue("s-2", "stranger@elsewhere.example", true, time.Minute), false, false, "no member has the email"},
		{"forged signature", f.issue("s-1", "pupil@school.example.org", true, time.Minute), false, true, "could not be verified"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			if c.forge {
				other, _ := rsa.GenerateKey(rand.Reader, 2048)
				f.signWith = other
				defer func() { f.signWith = f.key }()
			}
			client := newJarClient()
			to := ts.signInWithProvider(t, client, f, c.code, c.tamper, "")
			if to.Path != "/login" || !strings.Contains(to.Query().Get("error"), c.want) {
				t.Fatalf("landed on %s, want /login with %q", to, c.want)
			}
			if status, _ := ts.send(client, "GET", "/api/v1/me", "", nil, nil); status != 401 {
				t.Fatalf("refused sign-in has a session: %d", status)
			}
			if got := counts(); got != before {
				t.Fatalf("refused sign-in wrote something: %s, before %s", got, before)
			}
		})
	}
	var audit struct {
		Items []struct{ Action, Detail string }
	}
	ts.do("GET", "/api/v1/audit", ts.owner, nil, 200, &audit)
	failed := 0
	for _, it := range audit.Items {
		if it.Action == "signin_failed" {
			failed++
		}
	}
	if failed < len(refused) {
		t.Fatalf("audit log has %d failed sign-ins, want %d: %+v", failed, len(refused), audit.Items)
	}

	// The member with the verified email signs in and is linked; next time the subject is enough.
	client := newJarClient()
	to := ts.signInWithProvider(t, client, f, f.issue("s-1", "pupil@school.example.org", true, time.Minute), false, "?next=/usage")
	if to.Path != "/usage" {
		t.Fatalf("landed on %q", to.String())
	}
	var me struct{ ID int64 }
	if status, b := ts.send(client, "GET", "/api/v1/me", "", nil, nil); status != 200 || json.Unmarshal(b, &me) != nil || me.ID != memberID {
		t.Fatalf("after sign-in /me: %d %s", status, b)
	}
	var idents struct {
		Items []struct {
			ID              int64
			Provider, Email string
		}
	}
	status, b := ts.send(client, "GET", "/api/v1/me/identities", "", nil, nil)
	json.Unmarshal(b, &idents)
	if status != 200 || len(idents.Items) != 1 || idents.Items[0].Provider != "oidc" {
		t.Fatalf("identities: %d %s", status, b)
	}
	client2 := newJarClient()
	if to := ts.signInWithProvider(t, client2, f, f.issue("s-1", "renamed@school.example.org", false, time.Minute), false, ""); to.Path != "/" {
		t.Fatalf("a linked identity signs in by subject: %s", to)
	}
	// An open redirect is not possible through next.
	if to := ts.signInWithProvider(t, newJarClient(), f, f.issue("s-1", "pupil@school.example.org", true, time.Minute), false, "?next=//evil.example"); to.String() != "/" {
		t.Fatalf("next=//evil.example redirected to %s", to)
	}
	// Unlinking the only way in of a member without a password is refused; with a password it works.
	if status, _ := ts.sendBrowser(client, "DELETE", "/api/v1/me/identities/"+itoa(idents.Items[0].ID), nil); status != 200 {
		t.Fatalf("unlink with a password set: %d", status)
	}

	// An invitation lets a new email in, once.
	var inv struct{ Token, URL string }
	ts.do("POST", "/api/v1/invites", ts.owner, map[string]any{"role": "member"}, 201, &inv)
	if !strings.Contains(inv.URL, "/invite/"+inv.Token) {
		t.Fatalf("invite url %q", inv.URL)
	}
	to = ts.signInWithProvider(t, newJarClient(), f, f.issue("s-3", "newkid@elsewhere.example", true, time.Minute), false, "?invite="+inv.Token)
	if to.Path != "/" {
		t.Fatalf("invited sign-in: %s", to)
	}
	to = ts.signInWithProvider(t, newJarClient(), f, f.issue("s-4", "second@elsewhere.example", true, time.Minute), false, "?invite="+inv.Token)
	if to.Path != "/login" {
		t.Fatalf("an invitation worked twice: %s", to)
	}
	// An allowed domain may sign up.
	ts.do("PUT", "/api/v1/settings", ts.owner, map[string]any{"signupDomains": []string{"school.example.org"}}, 200, nil)
	if to := ts.signInWithProvider(t, newJarClient(), f, f.issue("s-5", "fresh@school.example.org", true, time.Minute), false, ""); to.Path != "/" {
		t.Fatalf("signup domain: %s", to)
	}
	if to := ts.signInWithProvider(t, newJarClient(), f, f.issue("s-6", "fresh@other.example.org", true, time.Minute), false, ""); to.Path != "/login" {
		t.Fatalf("a domain not on the list signed up: %s", to)
	}
}

func TestInvitationWithPassword(t *testing.T) {
	ts := newTestServer(t)
	var inv struct{ Token string }
	ts.do("POST", "/api/v1/invites", ts.owner, map[string]any{"email": "gran@example.org", "role": "admin", "monthlyCredits": 500}, 201, &inv)
	var pub struct{ Email, Role string }
	ts.do("GET", "/api/v1/invites/"+inv.Token, "", nil, 200, &pub)
	if pub.Email != "gran@example.org" || pub.Role != "admin" {
		t.Fatalf("public invite: %+v", pub)
	}
	ts.do("POST", "/api/v1/invites/"+inv.Token+"/accept", "", map[string]any{"email": "someone@example.org", "name": "X", "password": "password123"}, 403, nil)
	client := newJarClient()
	status, b := ts.send(client, "POST", "/api/v1/invites/"+inv.Token+"/accept", "", map[string]any{"email": "gran@example.org", "name": "Gran", "password": "password123"}, nil)
	if status != 201 {
		t.Fatalf("accept: %d %s", status, b)
	}
	var me struct{ Role string }
	_, b = ts.send(client, "GET", "/api/v1/me", "", nil, nil)
	json.Unmarshal(b, &me)
	if me.Role != "admin" {
		t.Fatalf("invited member: %s", b)
	}
	ts.do("GET", "/api/v1/invites/"+inv.Token, "", nil, 404, nil)
	ts.do("POST", "/api/v1/invites/"+inv.Token+"/accept", "", map[string]any{"email": "gran@example.org", "name": "Gran", "password": "password123"}, 404, nil)
	var list struct {
		Items []struct {
			UsedBy      *int64
			NextMonthly any
		}
	}
	ts.do("GET", "/api/v1/invites", ts.owner, nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].UsedBy == nil {
		t.Fatalf("invites list: %+v", list)
	}
}

func TestDisabledMembersAndRevokedTokensStopAtOnce(t *testing.T) {
	ts := newTestServer(t)
	id, tok := ts.member("kid@example.org")
	browser := ts.browser("kid@example.org")
	ts.do("GET", "/api/v1/me", tok, nil, 200, nil) // cached from here on
	ts.do("PATCH", "/api/v1/members/"+itoa(id), ts.owner, map[string]any{"disabled": true}, 200, nil)
	ts.do("GET", "/api/v1/me", tok, nil, 401, nil)
	if status, _ := ts.send(browser, "GET", "/api/v1/me", "", nil, nil); status != 401 {
		t.Fatalf("disabled member's session: %d", status)
	}
	ts.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "kid@example.org", "password": "password123"}, 401, nil)
	ts.do("PATCH", "/api/v1/members/"+itoa(id), ts.owner, map[string]any{"disabled": false}, 200, nil)
	ts.do("GET", "/api/v1/me", tok, nil, 200, nil)

	var created struct {
		ID    int64
		Token string
	}
	ts.do("POST", "/api/v1/tokens", ts.owner, map[string]any{"name": "laptop"}, 201, &created)
	ts.do("GET", "/api/v1/me", created.Token, nil, 200, nil)
	ts.do("DELETE", "/api/v1/tokens/"+itoa(created.ID), ts.owner, nil, 200, nil)
	ts.do("GET", "/api/v1/me", created.Token, nil, 401, nil)

	// Sign out everywhere ends every session of the caller.
	b1, b2 := ts.browser("kid@example.org"), ts.browser("kid@example.org")
	if status, _ := ts.sendBrowser(b1, "POST", "/api/v1/auth/logout-all", nil); status != 200 {
		t.Fatal("logout-all failed")
	}
	if status, _ := ts.send(b2, "GET", "/api/v1/me", "", nil, nil); status != 401 {
		t.Fatalf("another session survived sign out everywhere: %d", status)
	}
	// Admin password reset signs the member out too.
	b3 := ts.browser("kid@example.org")
	ts.do("POST", "/api/v1/members/"+itoa(id)+"/password", ts.owner, map[string]any{"password": "new-password-1"}, 200, nil)
	if status, _ := ts.send(b3, "GET", "/api/v1/me", "", nil, nil); status != 401 {
		t.Fatalf("session survived a password reset: %d", status)
	}
	ts.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "kid@example.org", "password": "new-password-1"}, 200, nil)
	// The last owner cannot be demoted or disabled.
	ts.do("PATCH", "/api/v1/members/1", ts.owner, map[string]any{"role": "member"}, 409, nil)
	ts.do("PATCH", "/api/v1/members/1", ts.owner, map[string]any{"disabled": true}, 409, nil)
}

package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAuthorizationTable calls every endpoint as five callers and checks the status. The rows
// come from the route list, so a new endpoint without a row here fails the test.
//
// Callers: anonymous, the member who owns the resource in the path, another member, an admin
// (the owner) and an app key. Bodies are "{}", so a caller who gets past authorization meets
// validation (400) rather than changing anything, unless the row says otherwise.
func TestAuthorizationTable(t *testing.T) {
	ts := newTestServer(t)
	memberID, member := ts.member("member@example.org")
	_, other := ts.member("other@example.org")
	ts.grant(memberID, "addon", "100")

	providers := 0
	// Fresh resources of the member for each call, so destructive calls never affect the next.
	fill := func(path string) string {
		if strings.Contains(path, ":keyId") {
			var k struct{ ID int64 }
			ts.do("POST", "/api/v1/apps/1/keys", ts.owner, nil, 201, &k)
			path = strings.Replace(path, ":keyId", itoa(k.ID), 1)
		}
		switch {
		case strings.HasPrefix(path, "/tokens/"):
			var tok struct{ ID int64 }
			ts.do("POST", "/api/v1/tokens", member, map[string]any{"name": "t"}, 201, &tok)
			return strings.Replace(path, ":id", itoa(tok.ID), 1)
		case strings.HasPrefix(path, "/usage/:id"):
			var u struct{ ID int64 }
			ts.do("POST", "/api/v1/usage", member, map[string]any{"description": "x", "credits": 1}, 201, &u)
			return strings.Replace(path, ":id", itoa(u.ID), 1)
		case strings.HasPrefix(path, "/delegations/"):
			var d struct{ ID int64 }
			ts.do("POST", "/api/v1/delegations", member, map[string]any{"granteeEmail": "other@example.org", "credits": 1, "period": "day"}, 201, &d)
			return strings.Replace(path, ":id", itoa(d.ID), 1)
		case strings.HasPrefix(path, "/members/"):
			return strings.Replace(path, ":id", itoa(memberID), 1)
		case strings.HasPrefix(path, "/apps/"):
			return strings.Replace(path, ":id", "1", 1)
		case path == "/invites/:id":
			var inv struct{ ID int64 }
			ts.do("POST", "/api/v1/invites", ts.owner, map[string]any{}, 201, &inv)
			return strings.Replace(path, ":id", itoa(inv.ID), 1)
		case strings.HasPrefix(path, "/invites/:token"):
			var inv struct{ Token string }
			ts.do("POST", "/api/v1/invites", ts.owner, map[string]any{}, 201, &inv)
			return strings.Replace(path, ":token", inv.Token, 1)
		case strings.HasPrefix(path, "/auth/:provider"):
			return strings.Replace(path, ":provider", "oidc", 1) // not configured here
		case strings.HasPrefix(path, "/settings/providers/"):
			return strings.Replace(path, ":provider", "github", 1)
		case path == "/me/identities/:id":
			return "/me/identities/999"
		case strings.HasPrefix(path, "/providers/:id"):
			providers++
			var pr struct{ ID int64 }
			ts.do("POST", "/api/v1/providers", ts.owner, map[string]any{"name": fmt.Sprint("local ", providers),
				"kind": "openai-compatible", "baseUrl": "http://127.0.0.1:1/v1"}, 201, &pr)
			return strings.Replace(path, ":id", itoa(pr.ID), 1)
		case strings.HasPrefix(path, "/prices/"):
			return strings.Replace(path, "*", "gpt-4o", 1)
		}
		return path
	}

	// Expected status for: anonymous, owner of the resource (member), other member, admin, app key.
	type row [5]int
	expect := map[string]row{
		"GET /healthz":                      {200, 200, 200, 200, 200},
		"GET /setup":                        {200, 200, 200, 200, 200},
		"POST /setup":                       {400, 400, 400, 400, 400}, // {} fails validation before the 409
		"POST /auth/login":                  {400, 400, 400, 400, 400},
		"POST /auth/logout":                 {200, 200, 200, 200, 200},
		"POST /auth/code":                   {400, 400, 400, 400, 400},
		"GET /auth/providers":               {200, 200, 200, 200, 200},
		"GET /auth/:provider/start":         {302, 302, 302, 302, 302}, // back to /login with an error
		"GET /auth/:provider/callback":      {302, 302, 302, 302, 302},
		"POST /auth/logout-all":             {401, 200, 200, 200, 403},
		"GET /invites/:token":               {200, 200, 200, 200, 200},
		"POST /invites/:token/accept":       {400, 400, 400, 400, 400},
		"GET /invites":                      {401, 403, 403, 200, 403},
		"POST /invites":                     {401, 403, 403, 201, 403},
		"DELETE /invites/:id":               {401, 403, 403, 200, 403},
		"GET /me":                           {401, 200, 200, 200, 200}, // an app key learns only its app id
		"GET /me/identities":                {401, 200, 200, 200, 403},
		"DELETE /me/identities/:id":         {401, 404, 404, 404, 403},
		"PUT /me/password":                  {401, 400, 400, 400, 403},
		"GET /settings":                     {401, 200, 200, 200, 200},
		"PUT /settings":                     {401, 403, 403, 200, 403},
		"GET /settings/providers":           {401, 403, 403, 200, 403},
		"PUT /settings/providers/:provider": {401, 403, 403, 200, 403}, // {} removes a provider
		"POST /tokens":                      {401, 400, 400, 400, 403},
		"GET /tokens":                       {401, 200, 200, 200, 403},
		"DELETE /tokens/:id":                {401, 200, 404, 404, 403},
		"GET /apps":                         {401, 200, 200, 200, 403},
		"POST /apps":                        {401, 403, 403, 400, 403},
		"PATCH /apps/:id":                   {401, 403, 403, 200, 403},
		"POST /apps/:id/keys":               {401, 403, 403, 201, 403},
		"DELETE /apps/:id/keys/:keyId":      {401, 403, 403, 200, 403},
		"GET /members":                      {401, 403, 403, 200, 403},
		"POST /members":                     {401, 403, 403, 400, 403},
		"POST /members/import":              {401, 403, 403, 400, 403},
		"PATCH /members/:id":                {401, 403, 403, 200, 403},
		"POST /members/:id/code":            {401, 403, 403, 201, 403},
		"POST /members/:id/password":        {401, 403, 403, 400, 403},
		"PUT /members/:id/plan":             {401, 403, 403, 400, 403},
		"POST /members/:id/grants":          {401, 403, 403, 400, 403},
		"POST /usage":                       {401, 400, 400, 400, 400},
		"GET /usage":                        {401, 200, 200, 200, 403},
		"GET /usage/export":                 {401, 200, 200, 200, 403},
		"GET /usage/aggregate":              {401, 200, 200, 200, 403},
		"GET /usage/facets":                 {401, 200, 200, 200, 403},
		"GET /usage/stream":                 {401, 200, 200, 200, 403},
		"GET /usage/:id":                    {401, 200, 404, 404, 403},
		"POST /usage/:id/refund":            {401, 403, 403, 200, 403},
		"GET /balance":                      {401, 200, 200, 200, 400}, // an app key must name the member
		"GET /ledger":                       {401, 200, 200, 200, 403},
		"POST /delegations":                 {401, 400, 400, 400, 403},
		"POST /delegations/bulk":            {401, 400, 400, 400, 403},
		"GET /delegations":                  {401, 200, 200, 200, 403},
		"PATCH /delegations/:id":            {401, 200, 403, 404, 403}, // the grantee may see, not change
		"DELETE /delegations/:id":           {401, 200, 403, 404, 403},
		"GET /granted/usage":                {401, 200, 200, 200, 403},
		"GET /granted/usage/export":         {401, 200, 200, 200, 403},
		"POST /delegations/bulk-update":     {401, 400, 400, 400, 403},
		"GET /granted/assignments":          {401, 200, 200, 200, 403},
		"GET /household":                    {401, 200, 200, 200, 403}, // a member sees their grantees, an admin everyone
		"GET /audit":                        {401, 403, 403, 200, 403},
		"GET /jobs":                         {401, 403, 403, 200, 403},
		// The AI gateway's providers and prices.
		"GET /providers":           {401, 403, 403, 200, 403},
		"POST /providers":          {401, 403, 403, 400, 403},
		"GET /providers/:id":       {401, 403, 403, 200, 403},
		"PATCH /providers/:id":     {401, 403, 403, 200, 403},
		"DELETE /providers/:id":    {401, 403, 403, 200, 403},
		"POST /providers/:id/test": {401, 403, 403, 502, 403}, // nothing listens on its port
		"GET /prices":              {401, 403, 403, 200, 403},
		"PUT /prices/*":            {401, 403, 403, 400, 403},
		"DELETE /prices/*":         {401, 403, 403, 404, 403}, // no override to remove
	}
	callers := []struct {
		name  string
		token string
	}{{"anonymous", ""}, {"member", member}, {"other member", other}, {"admin", ts.owner}, {"app key", ts.appKey}}
	seen := map[string]bool{}
	for _, r := range ts.srvRoutes() {
		key := r.Method + " " + r.Path
		seen[key] = true
		want, ok := expect[key]
		if !ok {
			t.Errorf("no row for %s: add it to the authorization table", key)
			continue
		}
		for i, c := range callers {
			path := fill(r.Path)
			if r.Path == "/usage/stream" && c.token != "" && want[i] == 200 {
				ids, stop := streamIDs(t, ts, c.token) // connects, so the status was 200
				_ = ids
				stop()
				continue
			}
			var body any
			if r.Method != "GET" && r.Method != "DELETE" {
				body = "{}"
			}
			status, b := ts.send(noRedirect, r.Method, "/api/v1"+path, c.token, body, nil)
			if status != want[i] {
				t.Errorf("%s as %s: %d, want %d (%s)", key, c.name, status, want[i], strings.TrimSpace(string(b)))
			}
		}
	}
	for key := range expect {
		if !seen[key] {
			t.Errorf("the table has a row for %s, which is not a route", key)
		}
	}
	_ = fmt.Sprint
}

// Uptime monitors probe with HEAD as often as with GET.
func TestTheHealthCheckAnswersHead(t *testing.T) {
	ts := newTestServer(t)
	status, body := ts.send(http.DefaultClient, "HEAD", "/api/v1/healthz", "", nil, nil)
	if status != 200 || len(body) != 0 {
		t.Fatalf("HEAD /api/v1/healthz: status %d, body %q; want 200 and no body", status, body)
	}
	ts.do("GET", "/api/v1/healthz", "", nil, 200, nil)
}

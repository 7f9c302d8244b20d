package server

import "github.com/gofiber/fiber/v2"

// Route is one API endpoint; the list drives both the router and the authorization tests.
type Route struct {
	Method, Path string
	// Access: "public", "user" (signed in or any token), "admin".
	Access  string
	Handler fiber.Handler
}

// Routes lists every API endpoint.
func (s *Server) Routes() []Route {
	return []Route{
		{"GET", "/healthz", "public", s.healthz},
		{"GET", "/setup", "public", s.getSetup},
		{"POST", "/setup", "public", s.postSetup},
		{"POST", "/auth/login", "public", s.login},
		{"POST", "/auth/logout", "public", s.logout},
		{"POST", "/auth/code", "public", s.loginWithCode},
		{"GET", "/auth/providers", "public", s.providers},
		{"GET", "/me", "user", s.me},
		{"GET", "/settings", "user", s.getSettings},
		{"PUT", "/settings", "admin", s.putSettings},
		{"POST", "/tokens", "user", s.createToken},
		{"GET", "/tokens", "user", s.listTokens},
		{"DELETE", "/tokens/:id", "user", s.revokeToken},
		{"GET", "/apps", "user", s.listApps},
		{"POST", "/apps", "admin", s.createApp},
		{"PATCH", "/apps/:id", "admin", s.updateApp},
		{"POST", "/apps/:id/keys", "admin", s.createAppKey},
		{"DELETE", "/apps/:id/keys/:keyId", "admin", s.revokeAppKey},
		{"GET", "/members", "admin", s.listMembers},
		{"POST", "/members", "admin", s.createMember},
		{"POST", "/members/import", "admin", s.importMembers},
		{"PATCH", "/members/:id", "admin", s.updateMember},
		{"POST", "/members/:id/code", "admin", s.newSigninCode},
		{"PUT", "/members/:id/plan", "admin", s.setPlan},
		{"POST", "/members/:id/grants", "admin", s.grant},
		{"POST", "/usage", "user", s.reportUsage},
		{"GET", "/usage", "user", s.listUsage},
		{"GET", "/usage/export", "user", s.exportUsage},
		{"GET", "/usage/aggregate", "user", s.aggregate},
		{"GET", "/usage/facets", "user", s.facets},
		{"GET", "/usage/stream", "user", s.stream},
		{"GET", "/usage/:id", "user", s.getUsage},
		{"POST", "/usage/:id/refund", "admin", s.refund},
		{"GET", "/balance", "user", s.balance},
		{"GET", "/ledger", "user", s.ledger},
		{"POST", "/delegations", "user", s.createDelegation},
		{"POST", "/delegations/bulk", "user", s.createDelegations},
		{"PATCH", "/delegations/:id", "user", s.editDelegation},
		{"GET", "/delegations", "user", s.listDelegations},
		{"DELETE", "/delegations/:id", "user", s.revokeDelegation},
		{"GET", "/granted/usage", "user", s.grantedUsage},
		{"GET", "/granted/usage/export", "user", s.exportGrantedUsage},
		{"GET", "/audit", "admin", s.auditLog},
		{"GET", "/jobs", "admin", s.jobs},
	}
}

func (s *Server) routes() {
	api := s.app.Group("/api/v1", s.authenticate)
	for _, r := range s.Routes() {
		handlers := []fiber.Handler{}
		switch r.Access {
		case "user":
			handlers = append(handlers, requireAuth)
		case "admin":
			handlers = append(handlers, requireAuth, requireAdmin)
		}
		handlers = append(handlers, r.Handler)
		api.Add(r.Method, r.Path, handlers...)
	}
	api.Use(func(c *fiber.Ctx) error { return fiber.NewError(fiber.StatusNotFound, "no such API endpoint") })
	s.app.Use(s.serveSPA)
}

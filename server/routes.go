package server

import "github.com/gofiber/fiber/v2"

// Route is one API endpoint; the list drives both the router and the authorization tests.
type Route struct {
	Method, Path string
	// Access: "public"; "user" (any credential, app keys included); "member" (a person:
	// a session or a personal token); "admin".
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
		{"GET", "/auth/:provider/start", "public", s.oauthStart},
		{"GET", "/auth/:provider/callback", "public", s.oauthCallback},
		{"POST", "/auth/logout-all", "member", s.logoutAll},
		{"GET", "/invites/:token", "public", s.getInvite},
		{"POST", "/invites/:token/accept", "public", s.acceptInvite},
		{"GET", "/invites", "admin", listHandler(s.svc.ListInvites)},
		{"POST", "/invites", "admin", s.createInvite},
		{"DELETE", "/invites/:id", "admin", byIDHandler(s.svc.RevokeInvite)},
		{"GET", "/me", "user", s.me},
		{"GET", "/me/identities", "member", listHandler(s.svc.Identities)},
		{"DELETE", "/me/identities/:id", "member", byIDHandler(s.svc.UnlinkIdentity)},
		{"PUT", "/me/password", "member", s.changePassword},
		{"GET", "/settings", "user", s.getSettings},
		{"PUT", "/settings", "admin", s.putSettings},
		{"GET", "/settings/providers", "admin", s.listProviders},
		{"PUT", "/settings/providers/:provider", "admin", s.putProvider},
		{"POST", "/tokens", "member", s.createToken},
		{"GET", "/tokens", "member", listHandler(s.svc.ListTokens)},
		{"DELETE", "/tokens/:id", "member", byIDHandler(s.svc.RevokeToken)},
		{"GET", "/apps", "member", listHandler(s.svc.ListApps)},
		{"POST", "/apps", "admin", s.createApp},
		{"PATCH", "/apps/:id", "admin", s.updateApp},
		{"POST", "/apps/:id/keys", "admin", s.createAppKey},
		{"DELETE", "/apps/:id/keys/:keyId", "admin", s.revokeAppKey},
		{"GET", "/members", "admin", s.listMembers},
		{"POST", "/members", "admin", s.createMember},
		{"POST", "/members/import", "admin", s.importMembers},
		{"PATCH", "/members/:id", "admin", s.updateMember},
		{"POST", "/members/:id/code", "admin", s.newSigninCode},
		{"POST", "/members/:id/password", "admin", s.resetPassword},
		{"PUT", "/members/:id/plan", "admin", s.setPlan},
		{"POST", "/members/:id/grants", "admin", s.grant},
		{"POST", "/usage", "user", s.reportUsage},
		{"GET", "/usage", "member", s.listUsage},
		{"GET", "/usage/export", "member", s.exportUsage},
		{"GET", "/usage/aggregate", "member", s.aggregate},
		{"GET", "/usage/facets", "member", s.facets},
		{"GET", "/usage/stream", "member", s.stream},
		{"GET", "/usage/:id", "member", s.getUsage},
		{"POST", "/usage/:id/refund", "admin", s.refund},
		{"GET", "/balance", "user", s.balance},
		{"GET", "/ledger", "member", s.ledger},
		{"POST", "/delegations", "member", s.createDelegation},
		{"POST", "/delegations/bulk", "member", s.createDelegations},
		{"PATCH", "/delegations/:id", "member", s.editDelegation},
		{"GET", "/delegations", "member", s.listDelegations},
		{"DELETE", "/delegations/:id", "member", byIDHandler(s.svc.RevokeDelegation)},
		{"GET", "/granted/usage", "member", s.grantedUsage},
		{"GET", "/granted/usage/export", "member", s.exportGrantedUsage},
		// The classroom (issue 20): many allowances at once, and the student × assignment table.
		{"POST", "/delegations/bulk-update", "member", s.updateDelegations},
		{"GET", "/granted/assignments", "member", s.grantedAssignments},
		// Who spent what (handlers_household.go): every member's totals for an admin, the
		// allowances' share for a granter.
		{"GET", "/household", "member", s.household},
		{"GET", "/audit", "admin", s.auditLog},
		{"GET", "/jobs", "admin", s.jobs},
		// The AI gateway's providers and prices (admin; handlers_aiproviders.go).
		{"GET", "/providers", "admin", s.listAIProviders},
		{"POST", "/providers", "admin", s.createAIProvider},
		{"GET", "/providers/:id", "admin", s.getAIProvider},
		{"PATCH", "/providers/:id", "admin", s.updateAIProvider},
		{"DELETE", "/providers/:id", "admin", s.deleteAIProvider},
		{"POST", "/providers/:id/test", "admin", s.testAIProvider},
		{"GET", "/prices", "admin", s.listPrices},
		{"PUT", "/prices/*", "admin", s.putPrice},
		{"DELETE", "/prices/*", "admin", s.deletePrice},
	}
}

func (s *Server) routes() {
	api := s.app.Group("/api/v1", s.authenticate)
	for _, r := range s.Routes() {
		handlers := []fiber.Handler{}
		switch r.Access {
		case "user":
			handlers = append(handlers, requireAuth)
		case "member":
			handlers = append(handlers, requireAuth, requireMember)
		case "admin":
			handlers = append(handlers, requireAuth, requireAdmin)
		}
		if isCookieRoute(r) {
			handlers = append(handlers, s.sameSiteJSON)
		}
		handlers = append(handlers, r.Handler)
		api.Add(r.Method, r.Path, handlers...)
	}
	// Uptime monitors often probe with HEAD. Only the health check answers it: the exports
	// take the connection over and would send a body a HEAD must not have.
	api.Head("/healthz", s.healthz)
	api.Use(func(c *fiber.Ctx) error { return fiber.NewError(fiber.StatusNotFound, "no such API endpoint") })
	s.app.Use(newSPA(s.spa).serve)
}

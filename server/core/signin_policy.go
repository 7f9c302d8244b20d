package core

import "strings"

// ProviderClaims is what a sign-in provider said about a person, as the HTTP layer read it from
// an answer it already checked (a signature-verified id_token, or the provider's own API over
// TLS). The flags are kept as the provider sent them; which of them make an email trustworthy
// is decided here, by SignInIdentity, not by the code that talks to the provider.
type ProviderClaims struct {
	Provider string // google, github, microsoft, oidc
	Subject  string // the provider's id for the person: OIDC sub, Google or GitHub user id
	Email    string
	Name     string

	// EmailVerified is the provider's own "this address is verified" flag as it sent it:
	// OIDC and Google email_verified, Google's older verified_email, or for GitHub whether the
	// address is a verified email of the account. nil when the provider said nothing.
	EmailVerified any

	// Microsoft (Entra ID) only.
	TenantID string // tid: the directory that signed the person in
	ObjectID string // oid: the person's immutable id in that directory
	// EmailDomainVerified is the optional xms_edov claim: Microsoft says the domain of the
	// email is verified by the tenant that issued the token.
	EmailDomainVerified any
	// ConfiguredTenant is TOKENJAR_MICROSOFT_TENANT (or the stored setting): a tenant id, or
	// common, organizations, consumers, or "" (common).
	ConfiguredTenant string
}

// MicrosoftSpecificTenant tells whether a configured Microsoft tenant names one directory, as
// opposed to the multi-tenant endpoints that let any directory (or personal accounts) sign in.
func MicrosoftSpecificTenant(tenant string) bool {
	switch strings.ToLower(strings.TrimSpace(tenant)) {
	case "", "common", "organizations", "consumers":
		return false
	}
	return true
}

// SignInIdentity turns a provider's claims into the identity tokenjar links and matches.
//
// Which emails count as verified, and so may link to an existing member, use an invitation
// bound to that address, or sign up under an allowed domain:
//   - google, oidc: email_verified (or Google's verified_email) is true;
//   - github: the address is one of the account's verified emails;
//   - microsoft: never because the email is present. Any tenant's admin can set a user's
//     email to anything ("nOAuth"). Only when the token carries xms_edov=true (the tenant
//     verified the email's domain) or the token comes from the one tenant the instance is
//     configured for (a tenant id, not common/organizations/consumers).
//
// A Microsoft identity is keyed by tid and oid, which the person cannot change, so a linked
// identity keeps signing in after its email changes, and an email change never moves it.
func SignInIdentity(c ProviderClaims) ExternalIdentity {
	id := ExternalIdentity{Provider: c.Provider, Subject: c.Subject, Email: strings.TrimSpace(c.Email), Name: c.Name}
	switch c.Provider {
	case "microsoft":
		id.Subject = ""
		if c.TenantID != "" && c.ObjectID != "" {
			id.Subject = strings.ToLower(c.TenantID) + "/" + strings.ToLower(c.ObjectID)
		}
		id.EmailVerified = claimTrue(c.EmailDomainVerified) ||
			(MicrosoftSpecificTenant(c.ConfiguredTenant) && c.TenantID != "" && strings.EqualFold(strings.TrimSpace(c.ConfiguredTenant), c.TenantID))
	case "google", "github", "oidc":
		id.EmailVerified = claimTrue(c.EmailVerified)
	}
	if id.Email == "" {
		id.EmailVerified = false
	}
	return id
}

// claimTrue reads a boolean claim. Some providers send booleans as the string "true".
func claimTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

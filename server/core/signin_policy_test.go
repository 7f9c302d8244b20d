package core

import "testing"

// TestSignInIdentityPolicy proves which provider answers make an email count as verified, and
// what a Microsoft identity is keyed by. It tests the rule alone: whether the claims came from a
// checked token is the HTTP layer's job and is tested in server/oauth_test.go.
func TestSignInIdentityPolicy(t *testing.T) {
	const tid, otherTid, oid = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", "aaaaaaaa-0000-0000-0000-000000000001"
	cases := []struct {
		name     string
		in       ProviderClaims
		verified bool
		subject  string
	}{
		{"oidc email_verified true", ProviderClaims{Provider: "oidc", Subject: "s", Email: "a@x.org", EmailVerified: true}, true, "s"},
		{"oidc email_verified \"true\"", ProviderClaims{Provider: "oidc", Subject: "s", Email: "a@x.org", EmailVerified: "true"}, true, "s"},
		{"oidc email_verified false", ProviderClaims{Provider: "oidc", Subject: "s", Email: "a@x.org", EmailVerified: false}, false, "s"},
		{"oidc email_verified missing", ProviderClaims{Provider: "oidc", Subject: "s", Email: "a@x.org"}, false, "s"},
		{"oidc email_verified 1 is not a boolean", ProviderClaims{Provider: "oidc", Subject: "s", Email: "a@x.org", EmailVerified: 1.0}, false, "s"},
		{"oidc verified but no email", ProviderClaims{Provider: "oidc", Subject: "s", EmailVerified: true}, false, "s"},
		{"google verified", ProviderClaims{Provider: "google", Subject: "g", Email: "a@gmail.com", EmailVerified: true}, true, "g"},
		{"google unverified", ProviderClaims{Provider: "google", Subject: "g", Email: "a@gmail.com", EmailVerified: false}, false, "g"},
		{"github verified address", ProviderClaims{Provider: "github", Subject: "7", Email: "a@x.org", EmailVerified: true}, true, "7"},
		{"github address not known verified", ProviderClaims{Provider: "github", Subject: "7", Email: "a@x.org"}, false, "7"},
		{"unknown provider never verified", ProviderClaims{Provider: "myspace", Subject: "7", Email: "a@x.org", EmailVerified: true}, false, "7"},
		// Microsoft: an email alone, or email_verified, is not enough (nOAuth).
		{"microsoft common, email only", ProviderClaims{Provider: "microsoft", Subject: "pairwise", TenantID: otherTid, ObjectID: oid, Email: "victim@x.org"}, false, otherTid + "/" + oid},
		{"microsoft common, email_verified is ignored", ProviderClaims{Provider: "microsoft", TenantID: otherTid, ObjectID: oid, Email: "victim@x.org", EmailVerified: true}, false, otherTid + "/" + oid},
		{"microsoft xms_edov false", ProviderClaims{Provider: "microsoft", TenantID: otherTid, ObjectID: oid, Email: "a@x.org", EmailDomainVerified: false}, false, otherTid + "/" + oid},
		{"microsoft xms_edov true", ProviderClaims{Provider: "microsoft", TenantID: otherTid, ObjectID: oid, Email: "a@x.org", EmailDomainVerified: true}, true, otherTid + "/" + oid},
		{"microsoft xms_edov \"true\"", ProviderClaims{Provider: "microsoft", TenantID: otherTid, ObjectID: oid, Email: "a@x.org", EmailDomainVerified: "true"}, true, otherTid + "/" + oid},
		{"microsoft configured tenant", ProviderClaims{Provider: "microsoft", TenantID: tid, ObjectID: oid, Email: "a@x.org", ConfiguredTenant: tid}, true, tid + "/" + oid},
		{"microsoft configured tenant, other case", ProviderClaims{Provider: "microsoft", TenantID: tid, ObjectID: oid, Email: "a@x.org", ConfiguredTenant: " 11111111-1111-1111-1111-111111111111 "}, true, tid + "/" + oid},
		{"microsoft token from another tenant than configured", ProviderClaims{Provider: "microsoft", TenantID: otherTid, ObjectID: oid, Email: "a@x.org", ConfiguredTenant: tid}, false, otherTid + "/" + oid},
		{"microsoft common is not a configured tenant", ProviderClaims{Provider: "microsoft", TenantID: "common", ObjectID: oid, Email: "a@x.org", ConfiguredTenant: "common"}, false, "common/" + oid},
		{"microsoft organizations is not a configured tenant", ProviderClaims{Provider: "microsoft", TenantID: "organizations", ObjectID: oid, Email: "a@x.org", ConfiguredTenant: "Organizations"}, false, "organizations/" + oid},
		{"microsoft consumers is not a configured tenant", ProviderClaims{Provider: "microsoft", TenantID: "consumers", ObjectID: oid, Email: "a@x.org", ConfiguredTenant: "consumers"}, false, "consumers/" + oid},
		{"microsoft without tid has no subject", ProviderClaims{Provider: "microsoft", Subject: "pairwise", ObjectID: oid, Email: "a@x.org", EmailDomainVerified: true}, true, ""},
		{"microsoft without oid has no subject", ProviderClaims{Provider: "microsoft", Subject: "pairwise", TenantID: tid, Email: "a@x.org", ConfiguredTenant: tid}, true, ""},
		{"microsoft ids are case-folded", ProviderClaims{Provider: "microsoft", TenantID: "AB-CD", ObjectID: "EF"}, false, "ab-cd/ef"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SignInIdentity(c.in)
			if got.EmailVerified != c.verified || got.Subject != c.subject {
				t.Fatalf("verified %v subject %q, want %v %q", got.EmailVerified, got.Subject, c.verified, c.subject)
			}
		})
	}
}

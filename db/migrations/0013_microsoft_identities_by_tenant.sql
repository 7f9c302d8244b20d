-- Microsoft identities are now keyed by the tenant and object id of a verified id_token
-- ('<tid>/<oid>'). Those linked before were keyed by the Graph id alone, and were linked because
-- the email matched, which the admin of any Microsoft tenant can set ("nOAuth"). None of them
-- can be matched any more, and some may have been linked by someone else, so they go, with one
-- audit line each. A member links again at their next Microsoft sign-in, under the new rules.
INSERT INTO audit_log(at, actor_id, action, target, ip, detail)
SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), NULL, 'identity_unlinked', 'member ' || user_id, '',
       'microsoft ' || email || ': linked before Microsoft sign-ins were keyed by tenant and object id; sign in with Microsoft again to link it'
FROM identities WHERE provider = 'microsoft';
DELETE FROM identities WHERE provider = 'microsoft';

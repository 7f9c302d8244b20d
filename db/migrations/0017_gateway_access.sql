-- Who may use the AI gateway, and how (SPEC section 10, "Who may use what").
--   apps.names_members: an admin allowed this app's keys to name the member billed on each gateway
--     request (X-OpenWebUI-User-Email / X-Tokenjar-User), for a shared Open WebUI or LibreChat.
--   users.gateway_models: the member's own allowed-models list (JSON array of `*` globs; []: any).
--   users.gateway_rpm: the member's gateway requests-per-minute limit (0: none).
ALTER TABLE apps ADD COLUMN names_members INTEGER NOT NULL DEFAULT 0 CHECK (names_members IN (0, 1));
ALTER TABLE users ADD COLUMN gateway_models TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN gateway_rpm INTEGER NOT NULL DEFAULT 0 CHECK (gateway_rpm >= 0);

-- Single sign-on: which account a provider's subject is, the groups that provider last gave the
-- account (so a re-sync removes only what it added), and per session the ID token that
-- RP-initiated logout sends back to the provider as id_token_hint.
CREATE TABLE sso_identities (
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email TEXT,
  synced_groups TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL,
  last_login_at BIGINT,
  PRIMARY KEY (provider, subject)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);
CREATE TABLE sso_sessions (
  session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  id_token TEXT NOT NULL
);

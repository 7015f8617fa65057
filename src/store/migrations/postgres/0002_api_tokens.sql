-- Personal API tokens (Authorization: Bearer dgt_<id>.<secret>). Like sessions, only the SHA-256
-- of the secret is stored. expires_at NULL means the token never expires; last_used_at is written
-- at most once per touch interval.
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  last_used_at BIGINT,
  created_by TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

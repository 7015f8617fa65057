-- Single-use links sent by email: password resets (and, later, email verification). Only the
-- SHA-256 of the link's secret is stored; used_at is set by a conditional UPDATE (single use).
CREATE TABLE email_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  purpose TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX email_tokens_user ON email_tokens (user_id);

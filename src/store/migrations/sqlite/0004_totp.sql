-- Second factors. A TOTP secret is usable once confirmed; last_time_step is the newest code
-- accepted, so a code is accepted once (replays are refused by a conditional UPDATE).
-- Recovery codes are stored as SHA-256 hashes (they are random, 50 bits each) and spent once.
CREATE TABLE totp_factors (
  user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret TEXT NOT NULL,
  confirmed_at INTEGER,
  last_time_step INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE recovery_codes (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

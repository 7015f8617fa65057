-- Emails are unique whatever their case (lookups already ignore case).
CREATE UNIQUE INDEX users_email_ci ON users (lower(email)) WHERE email IS NOT NULL;

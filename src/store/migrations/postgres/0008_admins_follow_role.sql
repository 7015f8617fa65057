-- The "admins" group follows the administrator role (issue 10). Earlier versions let
-- `dashgate groups grant admins <user>` and console invitations put someone in "admins" without
-- the role, and the app then received X-Forwarded-Groups: admins for them. Those memberships go;
-- no group operation can create one again (accounts/groups.ts).
DELETE FROM user_groups
WHERE group_id IN (SELECT id FROM groups WHERE name = 'admins')
  AND user_id IN (SELECT id FROM users WHERE is_admin = 0);

-- Reverts 0004_users.
DROP TABLE memberships;
DROP TABLE users;

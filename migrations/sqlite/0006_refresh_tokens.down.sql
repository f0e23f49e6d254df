-- Reverts 0005_refresh_tokens.
DROP TABLE refresh_tokens;

-- Reverts 0003_node_secrets.
DROP TABLE secret_bindings;
ALTER TABLE node_runs DROP COLUMN host_calls;

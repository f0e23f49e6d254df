-- Reverts 0002_runs.
DROP TABLE outbox;
ALTER TABLE node_runs DROP COLUMN claim_token;
DROP INDEX executions_finished_idx;
DROP INDEX executions_deadline_idx;
ALTER TABLE executions DROP COLUMN deadline_at;

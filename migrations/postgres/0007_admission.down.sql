-- Reverts 0007_admission.
DROP INDEX executions_deadline_idx;
CREATE INDEX executions_deadline_idx ON executions (status, deadline_at);
DROP INDEX executions_waiting_idx;
DROP INDEX executions_active_idx;
ALTER TABLE executions DROP COLUMN admitted_at;

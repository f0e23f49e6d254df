-- Per-tenant execution slots: an execution is admitted (admitted_at set)
-- while its tenant has a free slot, and waits (status queued, admitted_at
-- NULL) otherwise. Every execution stored before this version was admitted
-- when it was created.
ALTER TABLE executions ADD COLUMN admitted_at timestamptz;
UPDATE executions SET admitted_at = created_at;
-- The tenant's unfinished admitted executions: counted at every start.
CREATE INDEX executions_active_idx ON executions (tenant_id)
    WHERE admitted_at IS NOT NULL AND status IN ('queued', 'running');
-- The tenant's waiting executions, oldest first: admitted in that order.
CREATE INDEX executions_waiting_idx ON executions (tenant_id, created_at, id)
    WHERE admitted_at IS NULL AND status = 'queued';
-- The deadline sweep fails admitted executions only (a waiting one's
-- deadline starts when it is admitted).
DROP INDEX executions_deadline_idx;
CREATE INDEX executions_deadline_idx ON executions (deadline_at) WHERE admitted_at IS NOT NULL AND status IN ('queued', 'running');

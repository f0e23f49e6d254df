-- Reverts 0008_triggers.
DROP TABLE webhook_signatures;
DROP TABLE schedule_ticks;
DROP TABLE schedules;
DROP TABLE webhook_routes;
ALTER TABLE executions DROP COLUMN trigger_node;

-- Reverts 0004_audit_resource.
DROP INDEX audit_entries_resource_idx;

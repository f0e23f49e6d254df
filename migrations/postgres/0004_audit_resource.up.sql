-- GET /audit?resource=: one resource's entries, newest first, from an index.
CREATE INDEX audit_entries_resource_idx ON audit_entries (tenant_id, resource, created_at, id);

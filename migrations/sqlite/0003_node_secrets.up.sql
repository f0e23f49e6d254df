-- wasmflow schema, version 3 (SQLite): the same column, table and index as
-- postgres/0003_node_secrets.up.sql, and the same reading of the bindings
-- of the workflows saved before this version (a node name that comes twice
-- keeps its first node's bindings). JSON documents are TEXT, as in 0001.

ALTER TABLE node_runs ADD COLUMN host_calls TEXT;

CREATE TABLE secret_bindings (
    tenant_id   TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    node        TEXT NOT NULL,
    name        TEXT NOT NULL,
    secret      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, workflow_id, node, name),
    FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflows (tenant_id, id)
) STRICT;
CREATE INDEX secret_bindings_secret_idx ON secret_bindings (tenant_id, secret, workflow_id, node, name);

INSERT INTO secret_bindings (tenant_id, workflow_id, node, name, secret)
SELECT w.tenant_id, w.id, coalesce(n.value ->> '$.name', ''), s.key, s.value
FROM workflows w
JOIN workflow_versions v ON v.tenant_id = w.tenant_id AND v.workflow_id = w.id AND v.version = w.version
JOIN json_each(v.definition, '$.nodes') n
JOIN json_each(n.value, '$.secrets') s
WHERE w.deleted_at IS NULL AND json_type(v.definition, '$.nodes') = 'array'
    AND json_type(n.value, '$.secrets') = 'object'
ORDER BY w.tenant_id, w.id, n.key
ON CONFLICT DO NOTHING;

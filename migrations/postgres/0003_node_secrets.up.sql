-- wasmflow schema, version 3 (Postgres): what nodes do with secrets.
--
--   * node_runs.host_calls records what a run did through host functions (a
--     JSON array of calls: secret reads, outbound requests; never a value),
--     written with the run's outcome.
--   * secret_bindings holds the secret bindings of the current version of
--     each live workflow, one row per node and declared name: the tenant's
--     secret that a node's "secrets" object binds the name to. Every save
--     replaces a workflow's rows and a delete removes them, so "which
--     workflows use this secret" is an index lookup, not a walk through
--     every definition. The workflow's name is read from workflows.
--   * the bindings of the workflows saved before this version are read from
--     their current definitions here, once. The json operators refuse to
--     unescape "\u0000", which a definition may hold (in a description, a
--     param), so the text is read with it replaced by "\u0001": the same
--     length, still valid JSON whatever precedes it, and a change only to
--     strings that no valid node or secret name holds. A node name that
--     comes twice keeps its first node's bindings, as the store does.

ALTER TABLE node_runs ADD COLUMN host_calls json;

CREATE TABLE secret_bindings (
    tenant_id   text COLLATE "C" NOT NULL,
    workflow_id text COLLATE "C" NOT NULL,
    node        text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL, -- the name the node's module declares
    secret      text COLLATE "C" NOT NULL, -- the tenant's secret it is bound to
    PRIMARY KEY (tenant_id, workflow_id, node, name),
    FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflows (tenant_id, id)
);
-- SecretBindingList: the tenant's bindings to a secret, in list order.
CREATE INDEX secret_bindings_secret_idx ON secret_bindings (tenant_id, secret, workflow_id, node, name);

INSERT INTO secret_bindings (tenant_id, workflow_id, node, name, secret)
SELECT w.tenant_id, w.id, coalesce(n.node ->> 'name', ''), s.key, s.value
FROM workflows w
JOIN workflow_versions v ON v.tenant_id = w.tenant_id AND v.workflow_id = w.id AND v.version = w.version
CROSS JOIN LATERAL (SELECT replace(v.definition::text, E'\\u0000', E'\\u0001')::json -> 'nodes' AS nodes) d
CROSS JOIN LATERAL json_array_elements(CASE json_typeof(d.nodes) WHEN 'array' THEN d.nodes END)
    WITH ORDINALITY AS n (node, ord)
CROSS JOIN LATERAL json_each_text(CASE json_typeof(n.node -> 'secrets') WHEN 'object' THEN n.node -> 'secrets' END) AS s
WHERE w.deleted_at IS NULL
ORDER BY w.tenant_id, w.id, n.ord
ON CONFLICT DO NOTHING;

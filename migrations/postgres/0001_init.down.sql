-- Reverts 0001_init: drops every table, children first.
DROP TABLE audit_entries;
DROP TABLE secrets;
DROP TABLE node_runs;
DROP TABLE executions;
DROP TABLE module_versions;
DROP TABLE module_blobs;
DROP TABLE modules;
DROP TABLE workflow_versions;
DROP TABLE workflows;
DROP TABLE api_keys;
DROP TABLE tenants;

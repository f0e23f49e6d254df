// Package store defines wasmflow's storage seam: the interfaces every backend
// implements, the records they hold and the errors they return.
//
// Every record belongs to a tenant and every method takes the tenant id, so a
// query can never reach another tenant's rows: a record of another tenant is
// [ErrNotFound], exactly like one that does not exist. Backends live in
// store/postgres and store/sqlite; store/storetest is the conformance suite
// both run. Only cmd/wasmflow picks a backend.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/wasmflow/wasmflow/workflow"
)

var (
	// ErrNotFound is returned when a record does not exist in the given tenant.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a write would break a uniqueness rule
	// (an existing module version, secret name, tenant name) or a precondition
	// (a stale expected version).
	ErrConflict = errors.New("store: conflict")
	// ErrInvalidCursor is returned (wrapped) by list methods when Page.Cursor
	// is not a cursor that the same list returned: the caller sent garbage.
	ErrInvalidCursor = errors.New("store: invalid cursor")
)

// Store is everything a backend provides. It is split by noun so that each
// consumer can ask for just the part it uses.
type Store interface {
	Tenants
	APIKeys
	Workflows
	Modules
	Executions
	Secrets
	Audit

	// Ping reports whether the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the backend's connections.
	Close() error
}

// Page asks for one page of a list. The zero value asks for the first page of
// DefaultPageSize records.
type Page struct {
	// Cursor is the NextCursor of the previous page; empty for the first page.
	Cursor string
	// Limit caps the page size; 0 means DefaultPageSize, and MaxPageSize caps it.
	Limit int
}

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Size returns the effective page size.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// Tenant is an isolated space: its workflows, modules, secrets and executions
// never meet another tenant's.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Tenants stores tenants.
type Tenants interface {
	// TenantInsert creates a tenant; ErrConflict when the name is taken.
	TenantInsert(ctx context.Context, name string) (*Tenant, error)
	// TenantGet reads a tenant by id.
	TenantGet(ctx context.Context, id string) (*Tenant, error)
	// TenantGetByName reads a tenant by its unique name.
	TenantGetByName(ctx context.Context, name string) (*Tenant, error)
	// TenantCount counts all tenants (first-start bootstrap checks for zero).
	TenantCount(ctx context.Context) (int, error)
}

// APIKey is a stored API key. The key itself is never stored: Hash is its
// SHA-256 (keys are 256-bit random, so a fast hash is enough).
type APIKey struct {
	ID       string
	TenantID string
	Name     string
	Role     string
	// Prefix is the first characters of the key, shown in listings to tell keys apart.
	Prefix string
	Hash   []byte
	// PlatformAdmin keys may manage tenants.
	PlatformAdmin bool
	CreatedAt     time.Time
	ExpiresAt     *time.Time
	RevokedAt     *time.Time
}

// APIKeyInsertParams describes a new API key.
type APIKeyInsertParams struct {
	Name          string
	Role          string
	Prefix        string
	Hash          []byte
	PlatformAdmin bool
	ExpiresAt     *time.Time
}

// APIKeys stores API keys.
type APIKeys interface {
	APIKeyInsert(ctx context.Context, tenantID string, p *APIKeyInsertParams) (*APIKey, error)
	// APIKeyGetByHash finds a key by the hash of the presented secret, in any
	// tenant: it is how a request learns its tenant. Revoked and expired keys
	// are returned too; the caller decides.
	APIKeyGetByHash(ctx context.Context, hash []byte) (*APIKey, error)
	APIKeyList(ctx context.Context, tenantID string, page Page) ([]*APIKey, string, error)
	// APIKeyRevoke marks a key revoked; ErrNotFound when it is not the tenant's.
	APIKeyRevoke(ctx context.Context, tenantID, id string) error
}

// Workflow is the current version of a stored workflow.
type Workflow struct {
	ID       string
	TenantID string
	// Version counts saves, from 1; every version is kept.
	Version    int
	Definition workflow.Workflow
	Active     bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// WorkflowVersion is one saved version of a workflow.
type WorkflowVersion struct {
	WorkflowID string
	TenantID   string
	Version    int
	Definition workflow.Workflow
	CreatedAt  time.Time
}

// WorkflowUpdateParams is a new version of a workflow.
type WorkflowUpdateParams struct {
	Definition workflow.Workflow
	// ExpectedVersion, when non-zero, makes the update fail with ErrConflict
	// unless the current version is this one (optimistic locking).
	ExpectedVersion int
	// Active, when non-nil, sets Workflow.Active; nil keeps it.
	Active *bool
}

// Workflows stores workflows and every saved version of them.
type Workflows interface {
	// WorkflowInsert stores a new workflow as version 1, inactive: its
	// triggers fire only once it is activated.
	WorkflowInsert(ctx context.Context, tenantID string, def *workflow.Workflow) (*Workflow, error)
	WorkflowGet(ctx context.Context, tenantID, id string) (*Workflow, error)
	// WorkflowList lists the tenant's workflows, newest first, and the cursor
	// of the next page ("" on the last one).
	WorkflowList(ctx context.Context, tenantID string, page Page) ([]*Workflow, string, error)
	// WorkflowUpdate stores a new version and makes it current.
	WorkflowUpdate(ctx context.Context, tenantID, id string, p *WorkflowUpdateParams) (*Workflow, error)
	// WorkflowDelete removes a workflow from listings and reads; its versions
	// stay for the executions that ran them.
	WorkflowDelete(ctx context.Context, tenantID, id string) error
	// WorkflowVersionGet reads one version; like every read above, it is
	// ErrNotFound once the workflow is deleted.
	WorkflowVersionGet(ctx context.Context, tenantID, id string, version int) (*WorkflowVersion, error)
	// WorkflowVersionList lists the versions of a workflow, newest first.
	WorkflowVersionList(ctx context.Context, tenantID, id string, page Page) ([]*WorkflowVersion, string, error)
}

// ModuleVersion is one uploaded, immutable version of a node module.
type ModuleVersion struct {
	TenantID string
	// Name is "owner/name".
	Name    string
	Version string
	// Digest is "sha256:<hex>" of the wasm bytes, which are stored under it.
	Digest   string
	ABI      string
	Size     int64
	Manifest json.RawMessage
	// Signature is the detached signature uploaded with the module, if any.
	Signature json.RawMessage
	CreatedAt time.Time
}

// ModuleSummary is one module name with its newest version, for listings.
type ModuleSummary struct {
	Name          string
	LatestVersion string
	Versions      int
	UpdatedAt     time.Time
}

// Modules stores node module versions and their content-addressed bytes.
type Modules interface {
	// ModuleVersionInsert stores a version and its bytes in one transaction.
	// The same name, version and digest again is a no-op that returns the stored
	// version; the same name and version with another digest is ErrConflict.
	// v.Digest must be the digest of wasm; Size is set to len(wasm).
	ModuleVersionInsert(ctx context.Context, tenantID string, v *ModuleVersion, wasm []byte) (*ModuleVersion, error)
	ModuleVersionGet(ctx context.Context, tenantID, name, version string) (*ModuleVersion, error)
	// ModuleVersionList lists every version of a module, oldest first;
	// ErrNotFound when the module has none.
	ModuleVersionList(ctx context.Context, tenantID, name string) ([]*ModuleVersion, error)
	// ModuleList lists the tenant's module names, sorted by name; a summary's
	// LatestVersion is the version uploaded last.
	ModuleList(ctx context.Context, tenantID string, page Page) ([]*ModuleSummary, string, error)
	// ModuleBlobGet reads the wasm bytes stored under a digest for the tenant.
	ModuleBlobGet(ctx context.Context, tenantID, digest string) ([]byte, error)
}

// Execution statuses.
const (
	ExecutionQueued    = "queued"
	ExecutionRunning   = "running"
	ExecutionSucceeded = "succeeded"
	ExecutionFailed    = "failed"
	ExecutionCancelled = "cancelled"
)

// Node run statuses.
const (
	RunPending   = "pending"
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunSkipped   = "skipped"
	RunCancelled = "cancelled"
)

// Execution is one run of one workflow version.
type Execution struct {
	ID              string
	TenantID        string
	WorkflowID      string
	WorkflowVersion int
	Status          string
	// Trigger says what started it: "manual", "webhook", "schedule", "error", "retry".
	Trigger    string
	Input      json.RawMessage
	Error      json.RawMessage
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// NodeRun is one attempt of one node in an execution.
type NodeRun struct {
	ID          string
	TenantID    string
	ExecutionID string
	Node        string
	Attempt     int
	Status      string
	// Pending counts the parents that have not finished yet.
	Pending    int
	LeaseUntil *time.Time
	InputSize  int64
	Output     json.RawMessage
	Logs       json.RawMessage
	Error      json.RawMessage
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// ExecutionInsertParams is a new execution with one node run per node.
type ExecutionInsertParams struct {
	WorkflowID      string
	WorkflowVersion int
	Trigger         string
	Input           json.RawMessage
	// Runs are the first attempts, one per node (ID and timestamps are set by the store).
	Runs []*NodeRun
}

// ExecutionFilter narrows ExecutionList.
type ExecutionFilter struct {
	WorkflowID string
	Status     string
}

// Executions stores executions and their node runs. The engine adds the
// claim/finish transactions it needs on top of these.
type Executions interface {
	// ExecutionInsert stores an execution (status queued) and its node runs in
	// one transaction; a run's Attempt defaults to 1 and its Status to pending.
	// ErrNotFound when the workflow version does not exist in the tenant.
	ExecutionInsert(ctx context.Context, tenantID string, p *ExecutionInsertParams) (*Execution, []*NodeRun, error)
	ExecutionGet(ctx context.Context, tenantID, id string) (*Execution, error)
	// ExecutionList lists executions, newest first.
	ExecutionList(ctx context.Context, tenantID string, f ExecutionFilter, page Page) ([]*Execution, string, error)
	// NodeRunList lists an execution's node runs in creation order;
	// ErrNotFound when the execution does not exist in the tenant.
	NodeRunList(ctx context.Context, tenantID, executionID string) ([]*NodeRun, error)
}

// Secret is a stored secret: the value is encrypted with its own data key,
// which is wrapped by the master key KeyID names (envelope encryption). The
// store never sees a plaintext.
type Secret struct {
	TenantID   string
	Name       string
	Ciphertext []byte
	WrappedKey []byte
	KeyID      string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Secrets stores encrypted secrets.
type Secrets interface {
	// SecretInsert stores a new secret; ErrConflict when the name exists.
	SecretInsert(ctx context.Context, tenantID string, s *Secret) (*Secret, error)
	// SecretUpdate replaces a secret's value; ErrNotFound when it does not exist.
	SecretUpdate(ctx context.Context, tenantID string, s *Secret) (*Secret, error)
	SecretGet(ctx context.Context, tenantID, name string) (*Secret, error)
	// SecretList lists the tenant's secrets sorted by name.
	SecretList(ctx context.Context, tenantID string, page Page) ([]*Secret, string, error)
	SecretDelete(ctx context.Context, tenantID, name string) error
}

// AuditEntry records who did what, and when.
type AuditEntry struct {
	ID       string
	TenantID string
	// Actor is who acted: "api_key:<id>", "user:<id>", "node_run:<id>", "system".
	Actor string
	// Action is a dotted verb such as "workflow.create" or "secret.read".
	Action string
	// Resource is the id or name acted on.
	Resource  string
	Detail    json.RawMessage
	CreatedAt time.Time
}

// AuditFilter narrows AuditList.
type AuditFilter struct {
	Actor  string
	Action string
	// Since keeps entries created at or after it.
	Since *time.Time
}

// Audit stores the audit log, which is append-only.
type Audit interface {
	// AuditInsert appends an entry. It sets e.TenantID, and e.ID and
	// e.CreatedAt when they are zero.
	AuditInsert(ctx context.Context, tenantID string, e *AuditEntry) error
	// AuditList lists entries, newest first.
	AuditList(ctx context.Context, tenantID string, f AuditFilter, page Page) ([]*AuditEntry, string, error)
}

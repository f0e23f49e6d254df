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
	// ErrLimitReached is returned when a write would pass a limit the caller
	// set (ExecutionInsertParams.MaxWaiting).
	ErrLimitReached = errors.New("store: limit reached")
	// ErrLastOwner is returned when a change would leave a tenant that has
	// owner members without any: its last owner cannot be removed or demoted.
	ErrLastOwner = errors.New("store: the tenant's last owner")
)

// Store is everything a backend provides. It is split by noun so that each
// consumer can ask for just the part it uses.
type Store interface {
	Tenants
	APIKeys
	Users
	RefreshTokens
	Workflows
	Triggers
	Modules
	Executions
	Runs
	Secrets
	Audit
	Publishers
	Trust
	Catalog

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
	// TenantList lists every tenant, sorted by name: for operator commands
	// that walk all tenants (re-wrapping secrets), not for requests.
	TenantList(ctx context.Context) ([]*Tenant, error)
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
	// APIKeyGet reads one of the tenant's keys by id; ErrNotFound when it is
	// not the tenant's.
	APIKeyGet(ctx context.Context, tenantID, id string) (*APIKey, error)
	APIKeyList(ctx context.Context, tenantID string, page Page) ([]*APIKey, string, error)
	// APIKeyRevoke marks a key revoked; ErrNotFound when it is not the tenant's.
	APIKeyRevoke(ctx context.Context, tenantID, id string) error
}

// User is a person who signs in with an email and a password. Users are
// global; Membership gives one a role in a tenant.
type User struct {
	ID    string
	Email string
	// PasswordHash is the password's argon2id hash in PHC form, never the password.
	PasswordHash string
	CreatedAt    time.Time
}

// Membership is a user's role in one tenant.
type Membership struct {
	TenantID string
	UserID   string
	// Email is the user's, read with the membership.
	Email     string
	Role      string
	CreatedAt time.Time
}

// Users stores users and their memberships. Membership methods that change
// roles treat the role "owner" specially: a tenant's last owner member
// cannot be demoted or removed (ErrLastOwner).
type Users interface {
	// UserInsert creates a user; ErrConflict when the email is taken.
	UserInsert(ctx context.Context, email, passwordHash string) (*User, error)
	// UserGet reads a user by id.
	UserGet(ctx context.Context, id string) (*User, error)
	// UserGetByEmail reads a user by the exact email.
	UserGetByEmail(ctx context.Context, email string) (*User, error)
	// MembershipInsert adds the user to the tenant with role; ErrConflict
	// when the user is a member already, ErrNotFound when the tenant or the
	// user does not exist.
	MembershipInsert(ctx context.Context, tenantID, userID, role string) (*Membership, error)
	// MembershipGet reads the user's membership in the tenant.
	MembershipGet(ctx context.Context, tenantID, userID string) (*Membership, error)
	// MembershipList lists the tenant's members by user id.
	MembershipList(ctx context.Context, tenantID string, page Page) ([]*Membership, string, error)
	// MembershipListByUser lists every membership of the user, by tenant id
	// (at most a few per user: no paging).
	MembershipListByUser(ctx context.Context, userID string) ([]*Membership, error)
	// MembershipUpdate changes the user's role in the tenant; ErrLastOwner
	// when it would demote the last owner.
	MembershipUpdate(ctx context.Context, tenantID, userID, role string) (*Membership, error)
	// MembershipDelete removes the user from the tenant; ErrLastOwner when
	// the user is its last owner.
	MembershipDelete(ctx context.Context, tenantID, userID string) error
}

// RefreshToken is a stored refresh token of a login session. The token
// itself is never stored: Hash is its SHA-256 (it is 256-bit random).
type RefreshToken struct {
	ID       string
	TenantID string
	UserID   string
	// FamilyID is the ID of the first token of the login this one descends
	// from (its own ID for a login's token).
	FamilyID  string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when the token was refreshed or logged out; it is then spent.
	UsedAt *time.Time
}

// RefreshTokens stores refresh tokens.
type RefreshTokens interface {
	// RefreshTokenInsert stores a token in familyID (empty: a new family,
	// the token's own ID); ErrNotFound when the tenant or the user does not
	// exist.
	RefreshTokenInsert(ctx context.Context, tenantID, userID, familyID string, hash []byte, expiresAt time.Time) (*RefreshToken, error)
	// RefreshTokenUse spends the token with hash, in any tenant, and returns
	// it as it was before: ErrNotFound when no token has the hash, and the
	// token with UsedAt set when it was spent already (a replay: nothing
	// changes). Of concurrent uses exactly one finds it unspent.
	RefreshTokenUse(ctx context.Context, hash []byte) (*RefreshToken, error)
	// RefreshTokenRevokeFamily spends every unspent token of the family in
	// the tenant and returns how many it spent.
	RefreshTokenRevokeFamily(ctx context.Context, tenantID, familyID string) (int, error)
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
	// Active, when non-nil, sets Workflow.Active; nil keeps it. An update
	// that leaves the workflow active rewrites its triggers (see Triggers)
	// and is ErrConflict when a webhook route is another's; one that leaves
	// it inactive removes them.
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

// WebhookRoute is the webhook of an active workflow: requests for Method
// and Path of its tenant start the workflow at trigger node Node.
type WebhookRoute struct {
	TenantID   string
	Path       string
	Method     string
	WorkflowID string
	Node       string
}

// Schedule is the schedule trigger of an active workflow.
type Schedule struct {
	TenantID   string
	WorkflowID string
	Node       string
	Cron       string
	Timezone   string
	// Missed is workflow.MissedSkip or workflow.MissedRunOnce.
	Missed string
	// Since is when the schedule became active: no earlier tick fires. A
	// save of the active workflow keeps it for nodes that stay schedules.
	Since time.Time
	// LastTick is the latest tick claimed, nil before the first.
	LastTick *time.Time
}

// Triggers keeps what starts active workflows: their webhook routes and
// schedules, which the store writes from the current definition (see
// workflow.Workflow.Webhooks and Schedules) whenever a workflow is
// activated, deactivated, saved while active or deleted, in the same
// transaction; so they never drift from the active version. It also keeps
// the claims that make each schedule tick and each webhook signature count
// once across processes.
type Triggers interface {
	// WorkflowActivate makes the workflow active and writes its triggers.
	// version is the version the caller checked: ErrConflict when the
	// current version is another, or when a webhook route (method and path)
	// is held by another active workflow of the tenant. Activating an
	// active workflow rewrites its triggers.
	WorkflowActivate(ctx context.Context, tenantID, id string, version int) (*Workflow, error)
	// WorkflowDeactivate makes the workflow inactive and removes its
	// triggers; deactivating an inactive workflow changes nothing.
	WorkflowDeactivate(ctx context.Context, tenantID, id string) (*Workflow, error)
	// WebhookRouteGet finds the active webhook for method and path (as
	// workflow.NormalizeWebhookPath returns it) in the tenant.
	WebhookRouteGet(ctx context.Context, tenantID, method, path string) (*WebhookRoute, error)
	// ScheduleList lists, across tenants, the schedules of active workflows
	// after the cursor, in key order, and the cursor of the next page ("" on
	// the last). For the scheduler, not for requests.
	ScheduleList(ctx context.Context, page Page) ([]*Schedule, string, error)
	// ScheduleTickClaim records that the schedule's tick at tick fires.
	// ErrConflict when that tick or a later one was claimed already (by
	// this process or another); ErrNotFound when the schedule is not active.
	ScheduleTickClaim(ctx context.Context, tenantID, workflowID, node string, tick time.Time) error
	// WebhookSignatureUse records a webhook signature as used until
	// expiresAt; ErrConflict when it was used already and has not expired
	// by now.
	WebhookSignatureUse(ctx context.Context, tenantID, signature string, now, expiresAt time.Time) error
	// WebhookSignaturePrune deletes up to limit signatures (of any tenant)
	// that expired before now and returns how many it deleted.
	WebhookSignaturePrune(ctx context.Context, now time.Time, limit int) (int, error)
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
	// ManifestSHA256 is the hex sha256 of the manifest's canonical form as
	// uploaded (Manifest is normalized): what a signature's statement names.
	ManifestSHA256 string
	// Source is how the version came into the tenant: SourceUpload (the
	// default when empty) or SourceMarketplace (an install).
	Source    string
	CreatedAt time.Time
}

// Module version sources.
const (
	SourceUpload      = "upload"
	SourceMarketplace = "marketplace"
)

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
	// ModuleInstall stores a version as ModuleVersionInsert does and, in the
	// same transaction, replaces the tenant's grant for the module when
	// grant is not nil, and bumps the trust epoch (a grant changes what
	// runs may do). ErrConflict when the version exists with another digest.
	ModuleInstall(ctx context.Context, tenantID string, v *ModuleVersion, wasm []byte, grant *ModuleGrant) (*ModuleVersion, error)
	// ModuleGrantGet reads the tenant's grant for a module name.
	ModuleGrantGet(ctx context.Context, tenantID, name string) (*ModuleGrant, error)
}

// ModuleGrant is what a tenant granted a module it installed from the
// marketplace: the capabilities its runs get, and what the version it was
// granted for asked (a later version asking more needs a new grant).
type ModuleGrant struct {
	TenantID string
	Name     string
	// Version is the version installed with this grant.
	Version   string
	Granted   workflow.Capabilities
	Requested workflow.Capabilities
	UpdatedAt time.Time
}

// Publisher owns a module namespace: publisher "acme" signs "acme/*". Names
// are global; a publisher belongs to one tenant.
type Publisher struct {
	Name      string
	TenantID  string
	CreatedAt time.Time
}

// PublisherKey is an Ed25519 public key a publisher signs with. KeyID is
// the key's fingerprint (signing.KeyID). A signature counts only when made
// (its signed_at) within [NotBefore, NotAfter] by a key not revoked.
type PublisherKey struct {
	Publisher string
	KeyID     string
	PublicKey []byte
	NotBefore *time.Time
	NotAfter  *time.Time
	RevokedAt *time.Time
	CreatedAt time.Time
}

// Publishers stores publishers and their keys. Publishers and keys are
// global (their names are), so reads take no tenant; writes take the tenant
// that must own the publisher.
type Publishers interface {
	// PublisherInsert creates a publisher owned by the tenant; ErrConflict
	// when the name is taken.
	PublisherInsert(ctx context.Context, tenantID, name string) (*Publisher, error)
	// PublisherGet reads a publisher by name, whichever tenant owns it.
	PublisherGet(ctx context.Context, name string) (*Publisher, error)
	// PublisherList lists the tenant's publishers by name.
	PublisherList(ctx context.Context, tenantID string) ([]*Publisher, error)
	// PublisherKeyInsert registers a key; ErrNotFound when the publisher is
	// not the tenant's, ErrConflict when the key is registered already.
	PublisherKeyInsert(ctx context.Context, tenantID string, k *PublisherKey) (*PublisherKey, error)
	// PublisherKeyGet reads one key of a publisher.
	PublisherKeyGet(ctx context.Context, publisher, keyID string) (*PublisherKey, error)
	// PublisherKeyList lists a publisher's keys by creation; empty when it
	// has none or does not exist.
	PublisherKeyList(ctx context.Context, publisher string) ([]*PublisherKey, error)
	// PublisherKeyRevoke marks a key revoked (a key revoked before keeps its
	// first revocation time) and bumps the trust epoch, in one transaction;
	// ErrNotFound when the publisher is not the tenant's or has no such key.
	PublisherKeyRevoke(ctx context.Context, tenantID, publisher, keyID string) (*PublisherKey, error)
}

// TrustPolicy is what a tenant accepts to run.
type TrustPolicy struct {
	TenantID string
	// RequireSignatures refuses unsigned private uploads (marketplace
	// versions are always signed).
	RequireSignatures bool
	// TrustedPublishers, when not empty, are the only publishers whose
	// signatures the tenant accepts.
	TrustedPublishers []string
	// MinimumVersions maps module names to the lowest version that may run.
	MinimumVersions map[string]string
	// UpdatedAt is zero for a tenant that never set a policy.
	UpdatedAt time.Time
}

// Trust stores the tenants' trust policies and the trust epoch.
type Trust interface {
	// TrustPolicyGet reads the tenant's policy: the default (nothing
	// required, any publisher, no minimum) when it never set one.
	TrustPolicyGet(ctx context.Context, tenantID string) (*TrustPolicy, error)
	// TrustPolicyPut replaces the tenant's policy and bumps the trust epoch,
	// in one transaction.
	TrustPolicyPut(ctx context.Context, tenantID string, p *TrustPolicy) (*TrustPolicy, error)
	// TrustEpoch reads the counter that every change able to turn a
	// verdict on a module (a revoked key, a yanked version, a policy, a
	// grant) increments: verdicts cached at another epoch are stale.
	TrustEpoch(ctx context.Context) (int64, error)
}

// CatalogModule is a module in the shared marketplace catalog.
type CatalogModule struct {
	// Name is "owner/name"; the owner is Publisher.
	Name      string
	Publisher string
	// TenantID is the publishing tenant, which owns Publisher.
	TenantID      string
	Description   string
	LatestVersion string
	Versions      int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// CatalogVersion is one published version: a copy of the publishing
// tenant's module version, its bytes in that tenant's blobs.
type CatalogVersion struct {
	Name           string
	Version        string
	TenantID       string
	Digest         string
	ABI            string
	Size           int64
	Manifest       json.RawMessage
	ManifestSHA256 string
	Signature      json.RawMessage
	YankedAt       *time.Time
	YankReason     string
	CreatedAt      time.Time
}

// CatalogPublishParams is a version to publish.
type CatalogPublishParams struct {
	Publisher   string
	Description string
	// Version is copied as it is; TenantID and CreatedAt are set by the store.
	Version *CatalogVersion
}

// Catalog stores the shared marketplace: any tenant reads it, the tenant
// owning a module's publisher writes it.
type Catalog interface {
	// CatalogPublish adds a version (and the module, the first time) and
	// returns the module and version as stored: the same version with the
	// same digest again returns the stored one, with another digest it is
	// ErrConflict, as is a module another tenant published. ErrNotFound
	// when the tenant does not have the bytes.
	CatalogPublish(ctx context.Context, tenantID string, p *CatalogPublishParams) (*CatalogModule, *CatalogVersion, error)
	// CatalogGet reads a module of the catalog.
	CatalogGet(ctx context.Context, name string) (*CatalogModule, error)
	// CatalogList lists the catalog by name; query, when not empty, keeps
	// modules whose name or description contains it (ASCII case folded).
	CatalogList(ctx context.Context, query string, page Page) ([]*CatalogModule, string, error)
	// CatalogVersionList lists a module's versions in publish order;
	// ErrNotFound when it has none.
	CatalogVersionList(ctx context.Context, name string) ([]*CatalogVersion, error)
	// CatalogVersionGet reads one published version.
	CatalogVersionGet(ctx context.Context, name, version string) (*CatalogVersion, error)
	// CatalogVersionYank marks a version yanked with a reason (a yanked
	// version keeps its first time and reason) and bumps the trust epoch,
	// in one transaction; ErrNotFound when the tenant did not publish it.
	CatalogVersionYank(ctx context.Context, tenantID, name, version, reason string) (*CatalogVersion, error)
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
	// DeadlineAt, when set, is when the reconciler fails the execution if it
	// has not finished (the per-execution timeout). A waiting execution's
	// deadline moves by the time it waited when it is admitted.
	DeadlineAt *time.Time
	// AdmittedAt is when the execution got one of its tenant's execution
	// slots; nil while it waits for one (status queued, no run queued).
	AdmittedAt *time.Time
	// Trigger says what started it: "manual", "webhook", "schedule", "error", "retry".
	Trigger string
	// TriggerNode names the trigger node that started it; empty when any
	// trigger node of the kind may take the input.
	TriggerNode string
	Input       json.RawMessage
	Error       json.RawMessage
	CreatedAt   time.Time
	StartedAt   *time.Time
	FinishedAt  *time.Time
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
	Pending int
	// LeaseUntil is when a running run's claim expires unless extended; the
	// reconciler queues a run whose lease has expired again (its worker died).
	LeaseUntil *time.Time
	// ClaimToken identifies the claim that holds a running run: only that
	// claim may extend the lease or finish the run. Empty unless running,
	// or cancelled with its execution while running (the claim may still
	// record the outcome; see RunFinish).
	ClaimToken string
	InputSize  int64
	Output     json.RawMessage
	Logs       json.RawMessage
	Error      json.RawMessage
	// HostCalls records what the run did through host functions: a JSON
	// array of calls (secret reads, outbound requests), never a value.
	HostCalls  json.RawMessage
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// ExecutionInsertParams is a new execution with one node run per node.
type ExecutionInsertParams struct {
	WorkflowID      string
	WorkflowVersion int
	Trigger         string
	// TriggerNode is Execution.TriggerNode.
	TriggerNode string
	Input       json.RawMessage
	// DeadlineAt is the execution's timeout, if any.
	DeadlineAt *time.Time
	// Runs are the first attempts, one per node (ID and timestamps are set by
	// the store). A run inserted with status queued also gets an outbox
	// entry, in the same transaction.
	Runs []*NodeRun
	// MaxActive, when positive, is the tenant's execution slots: the
	// execution is admitted only while fewer than MaxActive of the tenant's
	// admitted executions are unfinished. Otherwise it waits: its queued
	// runs are stored pending (with no parent left) and without outbox
	// entries until ExecutionAdmit admits it.
	MaxActive int
	// MaxWaiting, when positive, caps the tenant's waiting executions: an
	// execution that would wait beyond it is not stored (ErrLimitReached).
	MaxWaiting int
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

// OutboxEntry is a queued node run waiting to be handed to the queue. It is
// written in the transaction that queues the run and deleted once the queue
// has taken it; the reconciler enqueues entries that stay (the process died
// between commit and enqueue, or the queue refused).
type OutboxEntry struct {
	TenantID    string
	ExecutionID string
	RunID       string
	Node        string
	Attempt     int
	// AvailableAt is when the run may start (later than CreatedAt for a
	// retry's backoff).
	AvailableAt time.Time
	CreatedAt   time.Time
}

// ChildRelease is what finishing a run does to one child node: its pending
// run's counter drops by one, and at zero it becomes queued.
type ChildRelease struct {
	Node string
}

// RunFinishParams is the outcome of a claimed run, stored in one transaction
// with everything it causes.
type RunFinishParams struct {
	RunID      string
	ClaimToken string
	// Status is RunSucceeded, RunFailed or RunSkipped.
	Status string
	Output json.RawMessage
	Logs   json.RawMessage
	Error  json.RawMessage
	// HostCalls is NodeRun.HostCalls.
	HostCalls json.RawMessage
	// InputSize is the bytes of the run's input document.
	InputSize int64
	// Release lists the children whose pending runs count this run as done
	// (every child, whatever the outcome, unless the run is retried or fails
	// the execution). Ignored when the execution has already finished.
	Release []ChildRelease
	// Retry, when set, inserts the next attempt of the same node, queued and
	// available at Retry.AvailableAt; Release is then ignored.
	Retry *RunRetry
	// FailExecution marks the execution failed with this error (JSON) and
	// cancels every run of it that is pending, queued or running.
	FailExecution json.RawMessage
}

// RunRetry schedules a run's next attempt.
type RunRetry struct {
	AvailableAt time.Time
}

// RunFinishResult is what a finish changed.
type RunFinishResult struct {
	// Queued are the outbox entries written: released children and a retry.
	// The caller enqueues them after the commit, then deletes them.
	Queued []*OutboxEntry
	// Execution is the execution after the finish; its status is final when
	// this finish ended it (no run left pending, queued or running).
	Execution *Execution
}

// ExecutionResumeParams restarts a failed or cancelled execution from where
// it stopped ("retry from failed").
type ExecutionResumeParams struct {
	// Runs are the new attempts to insert after the execution's runs (ID
	// and timestamps are set by the store, Status defaults to pending).
	// Attempt must be set by the caller, one higher than the node's latest;
	// queued ones get outbox entries.
	Runs []*NodeRun
	// DeadlineAt replaces the execution's deadline.
	DeadlineAt *time.Time
}

// Runs is the node-run state machine the engine drives. Every transition is
// one conditional write, so duplicates (a redelivered task, a second
// reconciler) find nothing to change and report it as ErrConflict. A run or
// execution that does not exist in the tenant is ErrNotFound. The
// cross-tenant sweeps do nothing when limit is not positive.
type Runs interface {
	// RunClaim moves a queued run to running with a new claim token and a
	// lease until leaseUntil, and a queued execution to running (setting
	// StartedAt), and deletes the run's outbox entry, in one transaction:
	// a queued run always has an entry and a claimed one none, whatever
	// becomes of the claim's reply. ErrConflict when the run is not queued
	// (already claimed, finished or cancelled) or its execution has
	// finished; ErrNotFound when it does not exist in the tenant.
	RunClaim(ctx context.Context, tenantID, runID string, leaseUntil time.Time) (*NodeRun, error)
	// RunExtendLease moves a running run's lease to leaseUntil; ErrConflict
	// when the claim token no longer holds the run (it finished, was
	// cancelled, or was queued again after its lease expired).
	RunExtendLease(ctx context.Context, tenantID, runID, claimToken string, leaseUntil time.Time) error
	// RunFinish stores a claimed run's outcome and, in the same transaction,
	// releases its children, queues a retry or fails the execution, writes
	// the outbox entries for every run it queued, and finishes the execution
	// when no run is left pending, queued or running (succeeded unless it
	// failed). Finishes of one execution's runs are serialized, so exactly
	// one of them finishes it. When the execution has already finished (it
	// was cancelled or failed while the run ran, which cancelled the run
	// but left its claim), the outcome is stored and causes nothing:
	// Release, Retry and FailExecution are ignored. ErrConflict when the
	// claim token no longer holds the run (it finished already, was queued
	// again, or its execution was resumed): nothing is stored.
	RunFinish(ctx context.Context, tenantID string, p *RunFinishParams) (*RunFinishResult, error)
	// RunRelease hands a claimed run back without an outcome (its worker
	// is shutting down): the running run that claimToken holds is queued
	// again at once, its claim token cleared and its lease and StartedAt
	// unset, and an outbox entry available now is written, in one
	// transaction; it returns the entry. ErrConflict when the claim token
	// no longer holds the run (it finished, was cancelled, or was queued
	// again) or its execution has finished: nothing is changed.
	RunRelease(ctx context.Context, tenantID, runID, claimToken string) (*OutboxEntry, error)
	// RunRequeueExpired queues again, with outbox entries, up to limit
	// running runs (of any tenant) whose lease ended before now, clearing
	// their claim; it returns the entries written.
	RunRequeueExpired(ctx context.Context, now time.Time, limit int) ([]*OutboxEntry, error)

	// OutboxDue lists up to limit outbox entries (of any tenant) created
	// before createdBefore and available by availableBy, oldest first.
	OutboxDue(ctx context.Context, createdBefore, availableBy time.Time, limit int) ([]*OutboxEntry, error)
	// OutboxDelete removes the entry of a run that is not queued (one a
	// duplicate delivery found claimed, finished or gone); the entry of a
	// queued run stays, even one queued again while the call was under
	// way, because it is how the reconciler finds the run. A missing entry
	// is not an error.
	OutboxDelete(ctx context.Context, tenantID, runID string) error

	// ExecutionCancel marks an execution that has not finished cancelled,
	// with every pending, queued or running run, and deletes its outbox
	// entries; ErrConflict when it has finished already.
	ExecutionCancel(ctx context.Context, tenantID, id string) (*Execution, error)
	// ExecutionResume sets a failed or cancelled execution running again
	// (clearing its error and FinishedAt, replacing its deadline, setting
	// StartedAt if it never started, and AdmittedAt if it was cancelled
	// while waiting), ends the claims its cancelled runs kept, and inserts
	// p.Runs; ErrConflict when the execution is not
	// failed or cancelled.
	ExecutionResume(ctx context.Context, tenantID, id string, p *ExecutionResumeParams) (*Execution, []*OutboxEntry, error)
	// ExecutionAdmit admits the tenant's oldest waiting executions while
	// fewer than maxActive of its admitted executions are unfinished (all
	// of them when maxActive is not positive): each gets AdmittedAt, its
	// deadline moved by the time it waited, and its runs without a parent
	// left queued with outbox entries, which it returns. Admissions and
	// ExecutionInsert with MaxActive are serialized per tenant, so the
	// slots are never overcommitted.
	ExecutionAdmit(ctx context.Context, tenantID string, maxActive int) ([]*OutboxEntry, error)
	// ExecutionWaitingTenants lists up to limit tenants (any tenant) that
	// have waiting executions: the reconciler admits theirs in case the
	// process that freed a slot died before admitting the next one.
	ExecutionWaitingTenants(ctx context.Context, limit int) ([]string, error)
	// ExecutionFailExpired fails, with the given error, up to limit
	// executions (of any tenant) admitted and still queued or running whose deadline is
	// before now, cancelling their open runs and deleting their outbox
	// entries; it returns them.
	ExecutionFailExpired(ctx context.Context, now time.Time, errJSON json.RawMessage, limit int) ([]*Execution, error)
	// ExecutionPrune deletes up to limit finished executions (of any tenant)
	// that finished before finishedBefore, with their runs and outbox
	// entries, and returns how many it deleted.
	ExecutionPrune(ctx context.Context, finishedBefore time.Time, limit int) (int, error)
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

// SecretBinding is one workflow node's binding of a name its module
// declares to a secret of the tenant ("secrets": {"token": "slack-prod"}).
type SecretBinding struct {
	WorkflowID   string
	WorkflowName string
	// Node is the node's name in the workflow.
	Node string
	// Name is the name the module declares ("token").
	Name string
	// Secret is the tenant's secret ("slack-prod").
	Secret string
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
	// SecretCount counts the tenant's secrets.
	SecretCount(ctx context.Context, tenantID string) (int, error)
	// SecretBindingList lists the bindings of the current versions of the
	// tenant's workflows (deleted ones excluded) to any of the secrets
	// named, all bindings when secrets is empty, sorted by secret, workflow
	// id, node and name. Workflow saves and deletes keep them current.
	SecretBindingList(ctx context.Context, tenantID string, secrets []string) ([]*SecretBinding, error)
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

// AuditFilter narrows AuditList; every field set must match.
type AuditFilter struct {
	Actor  string
	Action string
	// ActionPrefix keeps entries whose action starts with it ("secret.").
	ActionPrefix string
	Resource     string
	// Since keeps entries created at or after it.
	Since *time.Time
	// Until keeps entries created before it.
	Until *time.Time
}

// Audit stores the audit log, which is append-only.
type Audit interface {
	// AuditInsert appends an entry. It sets e.TenantID, and e.ID and
	// e.CreatedAt when they are zero.
	AuditInsert(ctx context.Context, tenantID string, e *AuditEntry) error
	// AuditList lists entries, newest first.
	AuditList(ctx context.Context, tenantID string, f AuditFilter, page Page) ([]*AuditEntry, string, error)
}

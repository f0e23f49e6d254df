package registry

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Store is the storage the registry needs: the module part of store.Store.
type Store interface {
	ModuleVersionInsert(ctx context.Context, tenantID string, v *store.ModuleVersion, wasm []byte) (*store.ModuleVersion, error)
	ModuleVersionGet(ctx context.Context, tenantID, name, version string) (*store.ModuleVersion, error)
	ModuleVersionList(ctx context.Context, tenantID, name string) ([]*store.ModuleVersion, error)
	ModuleList(ctx context.Context, tenantID string, page store.Page) ([]*store.ModuleSummary, string, error)
	ModuleBlobGet(ctx context.Context, tenantID, digest string) ([]byte, error)
	ModuleInstall(ctx context.Context, tenantID string, v *store.ModuleVersion, wasm []byte, grant *store.ModuleGrant) (*store.ModuleVersion, error)
	ModuleGrantGet(ctx context.Context, tenantID, name string) (*store.ModuleGrant, error)
	store.Publishers
	store.Trust
	store.Catalog
}

// Runtime is the sandbox the registry compiles and runs modules with: the
// part of *runtime.Runtime it uses.
type Runtime interface {
	Inspect(ctx context.Context, wasm []byte) (*runtime.ModuleInfo, error)
	Run(ctx context.Context, p *runtime.RunParams) (*runtime.Result, error)
	Session(ctx context.Context, p *runtime.RunParams) (*runtime.Session, error)
}

// Config configures a Registry. Store and Runtime are required; every other
// field has a default.
type Config struct {
	// Store holds module versions and their bytes. Required.
	Store Store
	// Runtime compiles uploads (to check them) and runs test runs. Required.
	Runtime Runtime
	// MaxModuleBytes caps an uploaded module. Defaults to DefaultMaxModuleBytes (32 MiB).
	MaxModuleBytes int64
	// MaxManifestBytes caps an uploaded manifest. Defaults to
	// DefaultMaxManifestBytes (64 KiB).
	MaxManifestBytes int64
	// Logger receives one line per stored version. Defaults to discarding.
	Logger *slog.Logger
	// Secrets reads the secret values runs ask for. Nil: no run may read a
	// secret (every read is refused, saying so).
	Secrets SecretReader
	// Audit receives an entry per secret read and outbound request of a
	// run. Nil: nothing is audited.
	Audit AuditLog
	// HTTP configures wasmflow_http_fetch for every run.
	HTTP HTTPOptions
	// MaxHostCalls caps the host function calls of one run. Defaults to
	// DefaultMaxHostCalls.
	MaxHostCalls int
	// Now is the clock of call records; defaults to time.Now.
	Now func() time.Time
	// MaxVerdicts caps the trust verdicts kept for runs. Defaults to
	// DefaultMaxVerdicts.
	MaxVerdicts int
}

// Defaults and fixed caps.
const (
	DefaultMaxModuleBytes   = 32 << 20
	DefaultMaxManifestBytes = 64 << 10
	// MaxSignatureBytes caps an uploaded signature.
	MaxSignatureBytes = 16 << 10
	// DefaultMaxVerdicts caps the cached trust verdicts (one per tenant and
	// module version run).
	DefaultMaxVerdicts = 4096
)

// Registry checks, stores, resolves and test-runs node modules, per tenant.
// It is safe for concurrent use.
type Registry struct {
	store            Store
	rt               Runtime
	maxModuleBytes   int64
	maxManifestBytes int64
	log              *slog.Logger
	secrets          SecretReader
	audit            AuditLog
	http             HTTPOptions
	maxHostCalls     int
	now              func() time.Time
	verdicts         *verdictCache
}

// New applies Config's defaults, validates it and builds a Registry.
func New(cfg Config) (*Registry, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("registry: Config.Store is required")
	case cfg.Runtime == nil:
		return nil, errors.New("registry: Config.Runtime is required")
	case cfg.MaxModuleBytes < 0:
		return nil, fmt.Errorf("registry: Config.MaxModuleBytes %d is negative", cfg.MaxModuleBytes)
	case cfg.MaxHostCalls < 0:
		return nil, fmt.Errorf("registry: Config.MaxHostCalls %d is negative", cfg.MaxHostCalls)
	case cfg.MaxVerdicts < 0:
		return nil, fmt.Errorf("registry: Config.MaxVerdicts %d is negative", cfg.MaxVerdicts)
	case cfg.MaxManifestBytes < 0:
		return nil, fmt.Errorf("registry: Config.MaxManifestBytes %d is negative", cfg.MaxManifestBytes)
	}
	if _, err := manifestSchema(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Registry{
		store:            cfg.Store,
		rt:               cfg.Runtime,
		maxModuleBytes:   cmp.Or(cfg.MaxModuleBytes, DefaultMaxModuleBytes),
		maxManifestBytes: cmp.Or(cfg.MaxManifestBytes, DefaultMaxManifestBytes),
		log:              cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		secrets:          cfg.Secrets,
		audit:            cfg.Audit,
		http:             cfg.HTTP,
		maxHostCalls:     cmp.Or(cfg.MaxHostCalls, DefaultMaxHostCalls),
		now:              cfg.Now,
		verdicts:         newVerdictCache(cmp.Or(cfg.MaxVerdicts, DefaultMaxVerdicts)),
	}, nil
}

// MaxModuleBytes is the largest module Upload accepts.
func (r *Registry) MaxModuleBytes() int64 { return r.maxModuleBytes }

// MaxManifestBytes is the largest manifest Upload accepts.
func (r *Registry) MaxManifestBytes() int64 { return r.maxManifestBytes }

// Get reads one version of a module; store.ErrNotFound when the tenant has
// no such version.
func (r *Registry) Get(ctx context.Context, tenantID, name, version string) (*store.ModuleVersion, error) {
	v, err := r.store.ModuleVersionGet(ctx, tenantID, name, version)
	if err != nil {
		return nil, fmt.Errorf("registry: get %s@%s: %w", name, version, err)
	}
	return v, nil
}

// Versions lists every version of a module in upload order;
// store.ErrNotFound when the tenant has none.
func (r *Registry) Versions(ctx context.Context, tenantID, name string) ([]*store.ModuleVersion, error) {
	vs, err := r.store.ModuleVersionList(ctx, tenantID, name)
	if err != nil {
		return nil, fmt.Errorf("registry: versions of %s: %w", name, err)
	}
	return vs, nil
}

// List lists the tenant's modules by name, each with its newest version,
// and the cursor of the next page ("" on the last). A cursor that this list
// did not return is store.ErrInvalidCursor.
func (r *Registry) List(ctx context.Context, tenantID string, page store.Page) ([]*store.ModuleSummary, string, error) {
	ms, next, err := r.store.ModuleList(ctx, tenantID, page)
	if err != nil {
		return nil, "", fmt.Errorf("registry: list modules: %w", err)
	}
	return ms, next, nil
}

// Module is a stored module version ready to run: its record, its parsed
// manifest and its bytes.
type Module struct {
	Version  *store.ModuleVersion
	Manifest *workflow.Manifest
	Wasm     []byte
}

// Load reads a module version with its manifest and bytes, for running it;
// store.ErrNotFound when the tenant has no such version. The bytes are
// checked against the version's digest.
func (r *Registry) Load(ctx context.Context, tenantID, name, version string) (*Module, error) {
	v, err := r.store.ModuleVersionGet(ctx, tenantID, name, version)
	if err != nil {
		return nil, fmt.Errorf("registry: load %s@%s: %w", name, version, err)
	}
	m, err := decodeStoredManifest(v)
	if err != nil {
		return nil, err
	}
	wasm, err := r.store.ModuleBlobGet(ctx, tenantID, v.Digest)
	if err != nil {
		return nil, fmt.Errorf("registry: load %s@%s: bytes %s: %w", name, version, v.Digest, err)
	}
	if got := digestOf(wasm); got != v.Digest {
		return nil, fmt.Errorf("registry: load %s@%s: stored bytes have digest %s, want %s", name, version, got, v.Digest)
	}
	return &Module{Version: v, Manifest: m, Wasm: wasm}, nil
}

// decodeStoredManifest decodes a version's manifest, checked at upload.
func decodeStoredManifest(v *store.ModuleVersion) (*workflow.Manifest, error) {
	var m workflow.Manifest
	if err := json.Unmarshal(v.Manifest, &m); err != nil {
		return nil, fmt.Errorf("registry: %s@%s: stored manifest: %w", v.Name, v.Version, err)
	}
	return &m, nil
}

// digestOf is "sha256:<hex>" of b: how module bytes are addressed.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

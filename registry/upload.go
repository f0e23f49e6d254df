package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// UploadParams is one module upload.
type UploadParams struct {
	// Module is the wasm bytes. Required.
	Module []byte
	// Manifest is the manifest (wasmflow.json). Required.
	Manifest []byte
	// Signature is an optional detached signature (a signing.Envelope),
	// verified before anything is stored and stored with the version.
	Signature []byte
}

// Upload checks a module and its manifest and stores them as a new version
// of the tenant's module, its bytes addressed by "sha256:<hex>". It reports
// whether the version was created: uploading the same bytes and manifest
// again returns the stored version and false.
//
// A refused upload is an *[Error] whose code says which check failed, in
// this order: sizes (module_too_large, manifest_too_large,
// signature_too_large; module_invalid or manifest_invalid when one is
// missing), the manifest (manifest_invalid, every problem at once), the
// signature (signature_invalid when it is malformed or does not verify,
// signature_namespace, signature_mismatch, signature_key_unknown,
// signature_key_revoked, signature_key_expired), the tenant's trust policy
// (signature_required, publisher_untrusted, version_below_minimum), a
// version the marketplace yanked (version_yanked), the module's bytes (module_invalid: not
// WebAssembly, does not compile), its imports (import_not_allowed: only WASI,
// plus for extism-v1 the Extism kernel and the wasmflow host functions whose
// capability the manifest declares), its entrypoint (missing_entrypoint, or
// module_invalid for the wrong type) and its declared memory against
// limits.memory_mb (module_invalid). Versions are immutable: the same
// version with other bytes or another manifest is an *Error with code
// version_immutable that matches store.ErrConflict.
func (r *Registry) Upload(ctx context.Context, tenantID string, p *UploadParams) (*store.ModuleVersion, bool, error) {
	up, err := r.parseUpload(p)
	if err != nil {
		return nil, false, err
	}
	// The signature and the tenant's policy are checked before the module
	// is compiled: a refused module costs no compilation.
	sub := subject{name: up.manifest.Name, version: up.manifest.Version, wasmSHA256: strings.TrimPrefix(up.digest, "sha256:"),
		manifestSHA256: up.manifestSHA256, digest: up.digest}
	if err := r.checkTrust(ctx, tenantID, sub, up.signature, store.SourceUpload, "manifest.version"); err != nil {
		return nil, false, err
	}
	mod, err := r.checkParsed(ctx, up)
	if err != nil {
		return nil, false, err
	}
	v := mod.Version

	existing, err := r.store.ModuleVersionGet(ctx, tenantID, v.Name, v.Version)
	switch {
	case err == nil:
		if err := sameVersion(existing, v); err != nil {
			return nil, false, err
		}
		return existing, false, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, false, fmt.Errorf("registry: upload %s@%s: %w", v.Name, v.Version, err)
	}
	stored, err := r.store.ModuleVersionInsert(ctx, tenantID, v, p.Module)
	if errors.Is(err, store.ErrConflict) {
		// Another upload of the same version won the race (a backend may
		// report even an identical one as a conflict): compare with it.
		winner, gerr := r.store.ModuleVersionGet(ctx, tenantID, v.Name, v.Version)
		if gerr != nil {
			return nil, false, immutable(v, "other bytes")
		}
		if err := sameVersion(winner, v); err != nil {
			return nil, false, err
		}
		return winner, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("registry: upload %s@%s: %w", v.Name, v.Version, err)
	}
	if err := sameVersion(stored, v); err != nil {
		return nil, false, err // the same bytes, another manifest, in a race
	}
	r.log.InfoContext(ctx, "module version stored",
		slog.String("tenant_id", tenantID), slog.String("module", v.Name+"@"+v.Version),
		slog.String("digest", v.Digest), slog.Int64("size", stored.Size))
	return stored, true, nil
}

// Check makes every check of [Registry.Upload] but stores nothing, and
// returns the module ready to run: its Version holds the name, version,
// digest, ABI, size, normalized manifest and signature as Upload would store
// them (no tenant, no creation time). A refusal is the *[Error] Upload would
// return. `wasmflow node test` runs a module only after this check, so a
// module that passes locally is one the server accepts. Safe for concurrent use.
func (r *Registry) Check(ctx context.Context, p *UploadParams) (*Module, error) {
	up, err := r.parseUpload(p)
	if err != nil {
		return nil, err
	}
	return r.checkParsed(ctx, up)
}

// parsedUpload is an upload whose sizes, manifest and signature document
// have been checked.
type parsedUpload struct {
	p         *UploadParams
	manifest  *workflow.Manifest
	signature json.RawMessage
	// digest is the module's "sha256:<hex>", computed once per upload.
	digest string
	// manifestSHA256 is the digest of the manifest as uploaded (empty for
	// a manifest with duplicate keys: it has no canonical form, so it can
	// be stored unsigned but no signature can match it).
	manifestSHA256 string
}

// parseUpload makes the checks that need no compilation: sizes, manifest,
// signature document.
func (r *Registry) parseUpload(p *UploadParams) (*parsedUpload, error) {
	if p == nil {
		p = &UploadParams{}
	}
	if err := r.checkSizes(p); err != nil {
		return nil, err
	}
	m, err := ParseManifest(p.Manifest)
	if err != nil {
		return nil, err
	}
	sig, err := checkSignature(p.Signature)
	if err != nil {
		return nil, err
	}
	manifestSHA, _ := signing.ManifestDigest(p.Manifest)
	return &parsedUpload{p: p, manifest: m, signature: sig, digest: digestOf(p.Module), manifestSHA256: manifestSHA}, nil
}

// checkParsed checks the module's bytes and returns the module ready to
// store or run.
func (r *Registry) checkParsed(ctx context.Context, up *parsedUpload) (*Module, error) {
	m, p := up.manifest, up.p
	if err := r.checkModule(ctx, m, p.Module); err != nil {
		return nil, err
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("registry: encode manifest: %w", err)
	}
	v := &store.ModuleVersion{
		Name:           m.Name,
		Version:        m.Version,
		Digest:         up.digest,
		ABI:            m.ABI,
		Size:           int64(len(p.Module)),
		Manifest:       manifest,
		Signature:      up.signature,
		ManifestSHA256: up.manifestSHA256,
	}
	return &Module{Version: v, Manifest: m, Wasm: p.Module}, nil
}

// sameVersion checks that an upload of an existing version repeats it: the
// same bytes and the same (normalized) manifest. The signature may differ;
// the stored one stays.
func sameVersion(stored, upload *store.ModuleVersion) error {
	switch {
	case stored.Digest != upload.Digest:
		return immutable(upload, "other bytes (stored "+stored.Digest+")")
	case !jsonEqual(stored.Manifest, upload.Manifest):
		return immutable(upload, "another manifest")
	}
	return nil
}

func immutable(v *store.ModuleVersion, what string) *Error {
	e := refuse(CodeVersionImmutable, "manifest.version",
		"%s@%s exists with %s: versions are immutable, upload a new version", v.Name, v.Version, what)
	e.Err = store.ErrConflict
	return e
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ea, _ := json.Marshal(va) // map keys sorted: a canonical form
	eb, _ := json.Marshal(vb)
	return bytes.Equal(ea, eb)
}

func (r *Registry) checkSizes(p *UploadParams) error {
	var problems []Problem
	tooLarge := ""
	check := func(field string, n, limit int64, code string) {
		switch {
		case n == 0 && field != "signature":
			problems = append(problems, Problem{Field: field, Message: "is required"})
		case n > limit:
			problems = append(problems, Problem{Field: field, Message: fmt.Sprintf("is %d bytes, over the limit of %s", n, formatBytes(limit))})
			if tooLarge == "" {
				tooLarge = code
			}
		}
	}
	check("module", int64(len(p.Module)), r.maxModuleBytes, CodeModuleTooLarge)
	check("manifest", int64(len(p.Manifest)), r.maxManifestBytes, CodeManifestTooLarge)
	check("signature", int64(len(p.Signature)), MaxSignatureBytes, CodeSignatureTooLarge)
	if len(problems) == 0 {
		return nil
	}
	code := tooLarge
	if code == "" { // something is missing and nothing is too large
		code = CodeModuleInvalid
		if len(p.Module) > 0 {
			code = CodeManifestInvalid
		}
	}
	return &Error{Code: code, Problems: problems}
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkTrust verifies a module's signature, when it has one, and applies
// the tenant's trust policy and the marketplace's yanks to it, for an
// upload (source upload) and before every run (the stored version's
// source). yankField names the field a yank refusal points at.
func (r *Registry) checkTrust(ctx context.Context, tenantID string, sub subject, sig json.RawMessage, source, yankField string) error {
	var signer *Signer
	if sig != nil {
		var err error
		if signer, err = r.verifySignature(ctx, sig, sub, "signature"); err != nil {
			return err
		}
	}
	pol, err := r.store.TrustPolicyGet(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("registry: trust policy: %w", err)
	}
	if perr := checkPolicy(pol, sub, signer, source, "signature"); perr != nil {
		return perr
	}
	return r.checkYanked(ctx, sub, yankField)
}

// checkSignature checks that a signature, when given, is a JSON object,
// and returns it compact.
func checkSignature(sig []byte) (json.RawMessage, error) {
	if len(sig) == 0 {
		return nil, nil
	}
	var obj map[string]any
	if err := json.Unmarshal(sig, &obj); err != nil || obj == nil {
		return nil, refuse(CodeSignatureInvalid, "signature", "must be a JSON object")
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, sig) // valid JSON: cannot fail
	return buf.Bytes(), nil
}

// checkModule compiles the module and checks that it fits its manifest.
func (r *Registry) checkModule(ctx context.Context, m *workflow.Manifest, wasm []byte) error {
	info, err := r.rt.Inspect(ctx, wasm)
	if err != nil {
		if ne, ok := errors.AsType[*runtime.NodeError](err); ok {
			return refuse(CodeModuleInvalid, "module", "%s", ne.Message)
		}
		return fmt.Errorf("registry: inspect module: %w", err)
	}
	if problems := importProblems(info, m); len(problems) > 0 {
		return &Error{Code: CodeImportNotAllowed, Problems: problems}
	}
	if err := checkEntrypoint(info, m); err != nil {
		return err
	}
	const pageBytes = 64 << 10
	if mem := info.Memory; mem != nil && m.Limits.MemoryMB > 0 &&
		uint64(mem.MinPages)*pageBytes > uint64(m.Limits.MemoryMB)<<20 {
		return refuse(CodeModuleInvalid, "manifest.limits.memory_mb",
			"the module declares %d pages (%s) of memory, more than limits.memory_mb allows (%d MiB)",
			mem.MinPages, formatBytes(int64(mem.MinPages)*pageBytes), m.Limits.MemoryMB)
	}
	return nil
}

// importProblems lists the imports the module may not have: only WASI
// functions, plus for extism-v1 the Extism kernel's functions and the
// wasmflow host functions whose capability the manifest declares.
func importProblems(info *runtime.ModuleInfo, m *workflow.Manifest) []Problem {
	var problems []Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	extism := m.ABI == workflow.ABIExtism
	for _, im := range info.Imports {
		name := im.Module + "." + im.Name
		switch {
		case im.Kind == runtime.ImportWASI || (extism && im.Kind == runtime.ImportExtismEnv):
			if im.Extern != "func" {
				add("module", "imports %s as a %s; %s provides only functions", name, im.Extern, im.Module)
			}
		case im.Kind == runtime.ImportOther:
			add("module", "imports %s, which nothing provides: %s modules may import only %s",
				name, m.ABI, allowedModules(m.ABI))
		case !extism:
			add("module", "imports %s: %s modules may import only wasi_snapshot_preview1", name, m.ABI)
		case im.Capability == "": // a host function none of ours provides
			add("module", "imports %s, which is not a wasmflow host function", name)
		case !declares(m, im.Capability):
			add("manifest.capabilities."+im.Capability, "the module imports %s, which needs the %q capability: declare it in the manifest's capabilities",
				name, im.Capability)
		case im.Extern != "func" || !slices.Equal(im.Params, []string{"i64"}) || !slices.Equal(im.Results, []string{"i64"}):
			add("module", "imports %s as %s, want func (i64) -> (i64)", name, signature(im.Extern, im.Params, im.Results))
		}
	}
	return problems
}

func allowedModules(abi string) string {
	if abi == workflow.ABIExtism {
		return "wasi_snapshot_preview1, extism:host/env and the wasmflow functions of extism:host/user"
	}
	return "wasi_snapshot_preview1"
}

// declares reports whether the manifest declares capability ("http", "secrets").
func declares(m *workflow.Manifest, capability string) bool {
	switch capability {
	case "http":
		return m.Capabilities.HTTP != nil
	case "secrets":
		return len(m.Capabilities.Secrets) > 0
	}
	return false
}

// checkEntrypoint checks that the module exports its entrypoint as a
// function of the type its ABI calls.
func checkEntrypoint(info *runtime.ModuleInfo, m *workflow.Manifest) error {
	entry := m.EntrypointOrDefault()
	var funcs []string
	for _, e := range info.Exports {
		if e.Extern != "func" {
			continue
		}
		if e.Name != entry {
			funcs = append(funcs, fmt.Sprintf("%q", e.Name))
			continue
		}
		ok := len(e.Params) == 0 && len(e.Results) == 0
		want := "() -> ()"
		if m.ABI == workflow.ABIExtism {
			ok = ok || len(e.Params) == 0 && slices.Equal(e.Results, []string{"i32"})
			want = "() -> (i32)"
		}
		if !ok {
			return refuse(CodeModuleInvalid, "manifest.entrypoint", "the module's %q is %s; %s calls %s",
				entry, signature("func", e.Params, e.Results), m.ABI, want)
		}
		return nil
	}
	exported := "none"
	if len(funcs) > 0 {
		if len(funcs) > 10 {
			funcs = append(funcs[:10], "…")
		}
		exported = strings.Join(funcs, ", ")
	}
	return refuse(CodeMissingEntrypoint, "manifest.entrypoint",
		"the module exports no function %q (exported functions: %s)", entry, exported)
}

func signature(extern string, params, results []string) string {
	if extern != "func" {
		return extern
	}
	return "(" + strings.Join(params, ", ") + ") -> (" + strings.Join(results, ", ") + ")"
}

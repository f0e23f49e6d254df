package registry

import (
	"fmt"
	"strings"
)

// Codes of [Error]: stable, snake_case; the API shows them as the problem's code.
const (
	// CodeModuleTooLarge: the module is over Config.MaxModuleBytes.
	CodeModuleTooLarge = "module_too_large"
	// CodeManifestTooLarge: the manifest is over Config.MaxManifestBytes.
	CodeManifestTooLarge = "manifest_too_large"
	// CodeSignatureTooLarge: the signature is over MaxSignatureBytes.
	CodeSignatureTooLarge = "signature_too_large"
	// CodeManifestInvalid: the manifest is not JSON, breaks its JSON Schema
	// (manifest.schema.json), or a rule the schema cannot express (name,
	// version, params_schema).
	CodeManifestInvalid = "manifest_invalid"
	// CodeSignatureInvalid: the signature document is malformed, or its
	// Ed25519 signature does not verify with the key it names.
	CodeSignatureInvalid = "signature_invalid"
	// CodeModuleInvalid: the module is missing, not WebAssembly, does not
	// compile, or does not fit its ABI or its manifest's limits.
	CodeModuleInvalid = "module_invalid"
	// CodeImportNotAllowed: the module imports something its ABI and declared
	// capabilities do not provide.
	CodeImportNotAllowed = "import_not_allowed"
	// CodeMissingEntrypoint: the module does not export the manifest's
	// entrypoint as a function.
	CodeMissingEntrypoint = "missing_entrypoint"
	// CodeVersionImmutable: the version exists with other bytes or another
	// manifest. The error also matches store.ErrConflict.
	CodeVersionImmutable = "version_immutable"
	// CodeRefInvalid: a module reference is not owner/name[@version-or-range].
	CodeRefInvalid = "ref_invalid"

	// CodeSignatureMismatch: the signature's statement describes another
	// module: another name, version, wasm bytes or manifest.
	CodeSignatureMismatch = "signature_mismatch"
	// CodeSignatureNamespace: the signing publisher does not own the
	// module's namespace (publisher "acme" signs only "acme/*").
	CodeSignatureNamespace = "signature_namespace"
	// CodeSignatureKeyUnknown: the publisher or its key is not registered.
	CodeSignatureKeyUnknown = "signature_key_unknown"
	// CodeSignatureKeyRevoked: the signing key has been revoked.
	CodeSignatureKeyRevoked = "signature_key_revoked"
	// CodeSignatureKeyExpired: the signature was made outside the key's
	// validity window.
	CodeSignatureKeyExpired = "signature_key_expired"
	// CodeSignatureRequired: the tenant's trust policy (or the marketplace)
	// needs a signature and the module has none.
	CodeSignatureRequired = "signature_required"
	// CodePublisherUntrusted: the signing publisher is not among the
	// tenant's trusted publishers.
	CodePublisherUntrusted = "publisher_untrusted"
	// CodeVersionBelowMinimum: the version is older than the tenant's
	// minimum for the module.
	CodeVersionBelowMinimum = "version_below_minimum"
	// CodeVersionYanked: the version was yanked from the marketplace.
	CodeVersionYanked = "version_yanked"
	// CodeGrantRequired: an install does not grant a capability the
	// version asks for.
	CodeGrantRequired = "grant_required"
	// CodeGrantExceedsRequest: an install grants more than the version asks for.
	CodeGrantExceedsRequest = "grant_exceeds_request"
	// CodeGrantInsufficient: the installed version asks for more than the
	// tenant granted the module: install it again with a new grant.
	CodeGrantInsufficient = "grant_insufficient"
	// CodePublisherInvalid: not a publisher name (lower-case letters,
	// digits, dashes).
	CodePublisherInvalid = "publisher_invalid"
	// CodePublisherTaken: the publisher name belongs to someone else (or
	// to the platform: "wasmflow").
	CodePublisherTaken = "publisher_taken"
	// CodePublisherNotFound: the tenant owns no publisher by that name.
	// The error also matches store.ErrNotFound.
	CodePublisherNotFound = "publisher_not_found"
	// CodeKeyInvalid: the public key is not a base64 Ed25519 key, or its
	// validity window is empty.
	CodeKeyInvalid = "key_invalid"
	// CodeProofInvalid: the proof does not show possession of the key.
	CodeProofInvalid = "proof_invalid"
	// CodeKeyExists: the key is registered already. It matches store.ErrConflict.
	CodeKeyExists = "key_exists"
	// CodeTrustPolicyInvalid: a trust policy names something that is not a
	// publisher, module or version.
	CodeTrustPolicyInvalid = "trust_policy_invalid"
)

// Error is why the registry refused a request: a stable Code and the
// Problems found, each naming the field at fault. Fields are "module",
// "signature", "ref", or "manifest" followed by a JSON path into the manifest
// ("manifest.capabilities.http.hosts[0]"). Err, when set, is an error the
// refusal also matches (store.ErrConflict for CodeVersionImmutable).
type Error struct {
	Code     string
	Problems []Problem
	Err      error
}

// Problem is one thing wrong with one field.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error implements error: the code and the first few problems.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("registry: ")
	b.WriteString(e.Code)
	for i, p := range e.Problems {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-i)
			break
		}
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%s%s: %s", sep, p.Field, p.Message)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// refuse builds an *Error with one problem.
func refuse(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Problems: []Problem{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// RunError is why a test run of a module failed: the runtime's verdict,
// without the runtime's types, so that callers which must not import the
// runtime (the API) can still tell a timeout from a trap.
type RunError struct {
	// Kind is the runtime's stable error kind: "timeout", "trap",
	// "guest_error", "memory_limit", "capability_not_granted", … (the
	// runtime.ErrorKind values).
	Kind string
	// Message is one human-readable line, safe to show to the module's owner.
	Message string
	// ExitCode is the WASI exit code or Extism return code of a guest_error.
	ExitCode uint32
	// Err is the runtime's *runtime.NodeError.
	Err error
}

// Error implements error.
func (e *RunError) Error() string {
	return "registry: test run failed: " + e.Kind + ": " + e.Message
}

// Unwrap returns Err: errors.Is(err, context.DeadlineExceeded) holds for a
// timed-out run.
func (e *RunError) Unwrap() error { return e.Err }

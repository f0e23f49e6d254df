// Package registry holds wasmflow's node modules: it checks an upload before
// anyone can run it, stores each version immutably with its bytes addressed
// by digest, resolves module references to exact versions, and runs a
// version once for testing.
//
// # Uploads
//
// [Registry.Upload] takes a module's wasm bytes, its manifest (wasmflow.json)
// and an optional signature, and refuses, with an *[Error] naming every
// field at fault, anything that could not run as declared: a manifest that
// breaks [ManifestSchema] or the rules the schema cannot express
// ([ParseManifest]), bytes that are not WebAssembly or do not compile, an
// import the ABI and the declared capabilities do not provide, a missing
// entrypoint. A version, once stored, never changes: the same version with
// other bytes is refused, the same upload again is a no-op.
//
// # References
//
// Workflows name modules "owner/name@range". [Registry.Resolve] turns one into
// an exact version and digest (the lock a workflow keeps), with Masterminds
// semver constraints; pre-releases only when asked for.
//
// # Runs
//
// [Registry.Load] returns what the engine needs to run a version;
// [Registry.TestRun] runs one with given items and params and reports the
// output, logs and duration, or a *[RunError] carrying the runtime's error
// kind.
//
// Every method takes the tenant: another tenant's modules do not exist
// (store.ErrNotFound).
package registry

// Package runtime is wasmflow's sandbox: it runs one node module, a
// WebAssembly module, with an input document and returns its output
// document, under limits, on a fresh instance per run (or, for raw IO, per
// session: see Sessions below).
//
// This package shares its name with the standard library's; where a file
// needs both, import the standard one as goruntime. Only this package
// imports github.com/extism/go-sdk.
//
// # ABIs
//
// A manifest's abi picks how a module is called:
//
//   - extism-v1, through the Extism Go SDK: the entrypoint (default "run") is
//     an export () -> i32 that reads its input and sets its output through
//     extism:host/env; error_set or a non-zero return fails the run. A module
//     that imports WASI gets it (no files, environment or network; a fake
//     clock); its stdout and stderr become log lines.
//   - wasi-command-v1, through wazero: the input on stdin, the output from
//     stdout, stderr into the logs; the entrypoint (default "_start") is an
//     export () -> (); a non-zero exit code fails the run. Nothing but WASI
//     may be imported.
//
// For document IO (the default) the output must be a JSON object; see
// [DecodeOutput]. For raw IO it is any bytes.
//
// # Sessions
//
// [Runtime.Run] calls a module once, on a fresh instance. A raw-IO node run
// calls its module once per item through a [Session] instead: one instance
// for all the calls (so a plugin keeps state between items), or a fresh one
// per call with the manifest's "instance": "per_item", under limits that
// hold for the whole session. Run is a session of one call.
//
// # Limits
//
// Each run has a memory limit (per linear memory; for Extism the kernel's
// memory, which holds the input, output and handles, counts apart from the
// guest's), a wall-time limit (a context deadline: wazero closes a module
// whose context is done, so an endless loop stops), an output cap and a log
// cap. The manifest sets them, a node may tighten them ([RunParams].Limits),
// and [Config]'s maxima cap both. Memory is enforced by a per-run
// experimental.MemoryAllocator that refuses to grow a memory past the limit:
// the guest sees memory.grow return -1, and a failure that follows is
// reported as KindMemoryLimit.
//
// Every failure of a module is a [*NodeError] with a [ErrorKind].
//
// # Host functions
//
// Host functions are imported from extism:host/user and each is a
// hostfuncs.Func. A run may use exactly [RunParams].HostFuncs; a module that
// imports any other fails with KindCapabilityNotGranted, naming the import,
// before any of its code runs. Extism's own http_request is always refused.
//
// # Caching
//
// Compiled modules are cached by digest (the SHA-256 of their bytes) in a
// bounded in-memory LRU and, with Config.CacheDir, in wazero's compilation
// cache on disk, so a restart does not recompile. [Runtime.Stats] counts
// hits and misses.
package runtime

// Package nodekit is the node developer kit behind `wasmflow node init |
// build | test | inspect`: it makes a node project in Go, C, Rust or
// AssemblyScript, builds it with the language's toolchain (naming the
// package of a missing one), runs it on test documents without a server,
// and describes a module for review.
//
// A node test runs in the platform's own sandbox: the module is checked as
// an upload is (registry.Registry.Check), then run as a registry test run
// is (registry.Registry.TestRunModule) on a runtime.Runtime with the
// server's default limits, with the host functions its manifest declares.
// Two seams make that local: the registry's HTTP transport answers from
// recorded fixtures (Replayer) instead of the network, and its secrets come
// from a local file. Nothing else differs from a run on the server.
//
// The projects carry the language's guest SDK (a copy of
// plugins-examples/sdk, embedded in the binary), so they build offline.
package nodekit

package nodekit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/workflow"
)

// Inspector reads a module without running it; *runtime.Runtime is one.
type Inspector interface {
	Inspect(ctx context.Context, wasm []byte) (*runtime.ModuleInfo, error)
}

// Import statuses in a Report.
const (
	// ImportProvided: the platform provides it to every module of its ABI.
	ImportProvided = "provided"
	// ImportNeedsGrant: a host function, provided only with its capability
	// declared in the manifest and granted by the tenant.
	ImportNeedsGrant = "needs_grant"
	// ImportRefused: linked, but every call is refused (Extism's own HTTP).
	ImportRefused = "refused"
	// ImportUnknown: nothing provides it: the module cannot run.
	ImportUnknown = "unknown"
)

// Report is what a reviewer wants to know of a module before granting it
// anything.
type Report struct {
	// Size in bytes and SHA256 (hex) of the file: the digest the platform
	// stores is "sha256:" + SHA256.
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	// ABI is the ABI the imports and exports fit: extism-v1,
	// wasi-command-v1 or raw (neither).
	ABI     string              `json:"abi"`
	Exports []runtime.Export    `json:"exports"`
	Imports []ImportReport      `json:"imports"`
	Memory  *runtime.MemoryInfo `json:"memory,omitempty"`
	// Capabilities are those the imports need ("http", "secrets"), sorted.
	Capabilities []string `json:"capabilities"`
	// Manifest is the manifest checked against the module, when one was given.
	Manifest *workflow.Manifest `json:"manifest,omitempty"`
	// Problems are why the platform would refuse or fail the module: unknown
	// imports, refused ones, and with a manifest every upload check.
	Problems []registry.Problem `json:"problems"`
}

// ImportReport is one import and what it takes to provide it.
type ImportReport struct {
	runtime.Import
	Status string `json:"status"`
	// Note says what provides it, or why nothing does.
	Note string `json:"note"`
}

// Inspect describes a module: size, SHA-256, the ABI its imports and
// exports fit, its exports, its imports with what provides each and the
// capabilities they need, and its declared memory. It never runs the
// module. An import nothing provides, or one always refused, is a
// Problem. With a manifest (wasmflow.json's bytes; nil for none) it also
// makes every check an upload makes, so an import the manifest does not
// declare the capability of is a Problem naming it. Bytes that are not a
// module are an error.
func Inspect(ctx context.Context, ins Inspector, wasm, manifest []byte) (*Report, error) {
	info, err := ins.Inspect(ctx, wasm)
	if err != nil {
		if ne, ok := errors.AsType[*runtime.NodeError](err); ok {
			return nil, fmt.Errorf("nodekit: not a usable WebAssembly module: %s", ne.Message)
		}
		return nil, fmt.Errorf("nodekit: inspect: %w", err)
	}
	sum := sha256.Sum256(wasm)
	r := &Report{
		Size: len(wasm), SHA256: hex.EncodeToString(sum[:]), ABI: info.DetectABI(),
		Exports: info.Exports, Memory: info.Memory, Imports: []ImportReport{}, Capabilities: []string{}, Problems: []registry.Problem{},
	}
	for _, im := range info.Imports {
		ir := describeImport(im)
		r.Imports = append(r.Imports, ir)
		if im.Capability != "" && !slices.Contains(r.Capabilities, im.Capability) {
			r.Capabilities = append(r.Capabilities, im.Capability)
		}
		if ir.Status == ImportUnknown || ir.Status == ImportRefused {
			r.Problems = append(r.Problems, registry.Problem{Field: "module", Message: im.Module + "." + im.Name + ": " + ir.Note})
		}
	}
	slices.Sort(r.Capabilities)
	if manifest == nil {
		return r, nil
	}
	r.Manifest, err = registry.ParseManifest(manifest)
	if err == nil {
		var reg *registry.Registry
		if reg, err = registry.New(registry.Config{Store: noModules{}, Runtime: inspectOnly{ins}}); err != nil {
			return nil, fmt.Errorf("nodekit: %w", err)
		}
		_, err = reg.Check(ctx, &registry.UploadParams{Module: wasm, Manifest: manifest})
	}
	if re, ok := errors.AsType[*registry.Error](err); ok {
		for _, p := range re.Problems {
			if !slices.Contains(r.Problems, p) {
				r.Problems = append(r.Problems, p)
			}
		}
	} else if err != nil {
		return nil, fmt.Errorf("nodekit: inspect: %w", err)
	}
	return r, nil
}

// describeImport says what provides an import.
func describeImport(im runtime.Import) ImportReport {
	ir := ImportReport{Import: im, Status: ImportProvided}
	switch {
	case im.Kind == runtime.ImportWASI:
		ir.Note = "WASI: no files, environment or network; a fake clock"
	case im.Kind == runtime.ImportExtismEnv && im.Name == "http_request":
		ir.Status = ImportRefused
		ir.Note = "Extism's built-in HTTP client is never allowed: every call fails; use wasmflow_http_fetch (capability http)"
	case im.Kind == runtime.ImportExtismEnv:
		ir.Note = "the Extism kernel (extism-v1 modules only)"
	case im.Kind == runtime.ImportHostFunc && im.Capability != "":
		ir.Status = ImportNeedsGrant
		ir.Note = fmt.Sprintf("wasmflow host function: needs the %q capability declared and granted", im.Capability)
	case im.Kind == runtime.ImportHostFunc:
		ir.Status = ImportUnknown
		ir.Note = "not a wasmflow host function: nothing provides it, so the module cannot run"
	default:
		ir.Status = ImportUnknown
		ir.Note = "nothing provides this module's imports: the module cannot run"
	}
	return ir
}

// inspectOnly is the registry's runtime for a check: it inspects and never runs.
type inspectOnly struct{ Inspector }

func (inspectOnly) Run(context.Context, *runtime.RunParams) (*runtime.Result, error) {
	return nil, errors.New("nodekit: inspect runs nothing")
}

func (inspectOnly) Session(context.Context, *runtime.RunParams) (*runtime.Session, error) {
	return nil, errors.New("nodekit: inspect runs nothing")
}

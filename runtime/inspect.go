package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/workflow"
)

// Import modules a node module may link against.
const (
	moduleWASI       = "wasi_snapshot_preview1"
	moduleExtismEnv  = "extism:host/env"
	moduleExtismUser = "extism:host/user"
)

// ImportKind says who provides an import.
type ImportKind string

// The kinds of [Import].
const (
	// ImportWASI is from wasi_snapshot_preview1 (no files, no environment,
	// no network, a fake clock).
	ImportWASI ImportKind = "wasi"
	// ImportExtismEnv is from extism:host/env, the Extism kernel.
	ImportExtismEnv ImportKind = "extism_env"
	// ImportHostFunc is a wasmflow host function from extism:host/user; its
	// Capability says which grant it needs, "" when none provides it.
	ImportHostFunc ImportKind = "host_func"
	// ImportOther is from any other module: nothing provides it, and a module
	// importing it cannot run.
	ImportOther ImportKind = "other"
)

// ModuleInfo describes a module without running it. It is a copy: callers
// may keep and change it.
type ModuleInfo struct {
	// Digest is "sha256:" and the hex SHA-256 of the module's bytes.
	Digest  string   `json:"digest"`
	Size    int      `json:"size"`
	Imports []Import `json:"imports"`
	Exports []Export `json:"exports"`
	// Memory is the module's linear memory, defined or imported; nil when it has none.
	Memory *MemoryInfo `json:"memory,omitempty"`
}

// Import is one import of a module.
type Import struct {
	Module string     `json:"module"`
	Name   string     `json:"name"`
	Kind   ImportKind `json:"kind"`
	// Extern is "func", "table", "memory", "global" or "tag".
	Extern string `json:"extern"`
	// Params and Results are a function's value types ("i32", "i64", ...).
	Params  []string `json:"params,omitempty"`
	Results []string `json:"results,omitempty"`
	// Capability is the manifest capability a host function needs (see
	// hostfuncs.RequiredCapability); "" for every other import.
	Capability string `json:"capability,omitempty"`
}

// Export is one export of a module.
type Export struct {
	Name string `json:"name"`
	// Extern is "func", "table", "memory", "global" or "tag".
	Extern  string   `json:"extern"`
	Params  []string `json:"params,omitempty"`
	Results []string `json:"results,omitempty"`
}

// MemoryInfo is a declared linear memory, in 64 KiB pages.
type MemoryInfo struct {
	MinPages uint32 `json:"min_pages"`
	// MaxPages is the declared maximum; 0 when HasMax is false.
	MaxPages uint32 `json:"max_pages,omitempty"`
	HasMax   bool   `json:"has_max"`
	Imported bool   `json:"imported,omitempty"`
}

// Inspect parses and validates a module without running it, and describes
// its imports, exports and memory. It compiles the module into the cache, so
// a Run of the same bytes afterwards does not compile again. Invalid bytes
// fail with KindInvalidModule; a declared minimum memory over
// Config.MaxMemoryMB fails with KindMemoryLimit. Safe for concurrent use.
func (r *Runtime) Inspect(ctx context.Context, wasm []byte) (*ModuleInfo, error) {
	m, err := r.module(ctx, digestOf(wasm), wasm)
	if err != nil {
		return nil, err
	}
	defer r.cache.release(ctx, m)
	return m.info.clone(), nil
}

func (mi *ModuleInfo) clone() *ModuleInfo {
	c := *mi
	c.Imports = slices.Clone(mi.Imports)
	for i := range c.Imports {
		c.Imports[i].Params = slices.Clone(c.Imports[i].Params)
		c.Imports[i].Results = slices.Clone(c.Imports[i].Results)
	}
	c.Exports = slices.Clone(mi.Exports)
	for i := range c.Exports {
		c.Exports[i].Params = slices.Clone(c.Exports[i].Params)
		c.Exports[i].Results = slices.Clone(c.Exports[i].Results)
	}
	if mi.Memory != nil {
		mem := *mi.Memory
		c.Memory = &mem
	}
	return &c
}

func (mi *ModuleInfo) export(name string) (Export, bool) {
	for _, e := range mi.Exports {
		if e.Name == name {
			return e, true
		}
	}
	return Export{}, false
}

// ABIRaw is what [ModuleInfo.DetectABI] calls a module that fits neither
// ABI: it imports nothing from Extism and exports no WASI _start.
const ABIRaw = "raw"

// DetectABI says which ABI the module was built for, from its imports and
// exports alone (a manifest's abi is what decides how it runs):
// workflow.ABIExtism when it imports the Extism kernel (extism:host/env) or
// a host function (extism:host/user); else workflow.ABIWASICommand when it
// exports _start as () -> (); else ABIRaw.
func (mi *ModuleInfo) DetectABI() string {
	for _, im := range mi.Imports {
		if im.Kind == ImportExtismEnv || im.Kind == ImportHostFunc {
			return workflow.ABIExtism
		}
	}
	if e, ok := mi.export("_start"); ok && e.Extern == "func" && len(e.Params) == 0 && len(e.Results) == 0 {
		return workflow.ABIWASICommand
	}
	return ABIRaw
}

// importsWASI reports whether the module imports anything from WASI.
func (mi *ModuleInfo) importsWASI() bool {
	return slices.ContainsFunc(mi.Imports, func(im Import) bool { return im.Kind == ImportWASI })
}

// isHandleFunc reports whether a function takes one handle and returns one:
// the type of every wasmflow host function.
func isHandleFunc(params, results []string) bool {
	return slices.Equal(params, []string{"i64"}) && slices.Equal(results, []string{"i64"})
}

// parseModule reads the sections of a module that ModuleInfo needs: types,
// imports, functions, memories and exports. It checks structure only;
// wazero's compiler validates the rest. It never panics on any input.
func parseModule(wasm []byte) (*ModuleInfo, error) {
	r := &wasmReader{b: wasm}
	if !slices.Equal(r.bytes(8), []byte{0, 'a', 's', 'm', 1, 0, 0, 0}) {
		return nil, errors.New("not a WebAssembly 1.0 binary (bad magic or version)")
	}
	var (
		info      = &ModuleInfo{Size: len(wasm), Imports: []Import{}, Exports: []Export{}}
		types     []funcType
		funcTypes []int64 // type index of every function, -1 for imports (which come first)
	)
	typeAt := func(typeIdx uint32) (funcType, error) {
		if int64(typeIdx) >= int64(len(types)) {
			return funcType{}, fmt.Errorf("type index %d out of range", typeIdx)
		}
		return types[typeIdx], nil
	}
	for r.err == nil && r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		body := r.bytes(size)
		if r.err != nil {
			break
		}
		s := &wasmReader{b: body}
		switch id {
		case 1: // type
			for range s.vec() {
				if form := s.byte(); form != 0x60 && s.err == nil {
					return nil, fmt.Errorf("section %d: unsupported type form 0x%x", id, form)
				}
				types = append(types, funcType{params: s.valTypes(), results: s.valTypes()})
			}
		case 2: // import
			for range s.vec() {
				im := Import{Module: s.name(), Name: s.name()}
				im.Kind = importKind(im.Module)
				switch kind := s.byte(); kind {
				case 0:
					im.Extern = "func"
					ft, err := typeAt(s.u32())
					if err != nil && s.err == nil {
						return nil, fmt.Errorf("section %d: %w", id, err)
					}
					im.Params, im.Results = ft.params, ft.results
					funcTypes = append(funcTypes, -1) // its type is kept on the Import
				case 1:
					im.Extern = "table"
					s.byte() // reference type
					s.limits()
				case 2:
					im.Extern = "memory"
					mem := s.limits()
					mem.Imported = true
					if info.Memory == nil {
						info.Memory = &mem
					}
				case 3:
					im.Extern = "global"
					s.byte() // value type
					s.byte() // mutability
				case 4:
					im.Extern = "tag"
					s.byte() // attribute
					s.u32()  // type index
				default:
					if s.err == nil {
						return nil, fmt.Errorf("section %d: import %s.%s: unknown kind 0x%x", id, im.Module, im.Name, kind)
					}
				}
				if im.Kind == ImportHostFunc {
					im.Capability, _ = hostfuncs.RequiredCapability(im.Name)
				}
				info.Imports = append(info.Imports, im)
			}
		case 3: // function
			for range s.vec() {
				funcTypes = append(funcTypes, int64(s.u32()))
			}
		case 5: // memory
			for range s.vec() {
				mem := s.limits()
				if info.Memory == nil && s.err == nil {
					info.Memory = &mem
				}
			}
		case 7: // export
			for range s.vec() {
				e := Export{Name: s.name()}
				kind, idx := s.byte(), s.u32()
				if s.err != nil {
					break
				}
				switch kind {
				case 0:
					e.Extern = "func"
					ft, err := exportedFuncType(info.Imports, funcTypes, types, idx)
					if err != nil {
						return nil, fmt.Errorf("section %d: %w", id, err)
					}
					e.Params, e.Results = ft.params, ft.results
				case 1:
					e.Extern = "table"
				case 2:
					e.Extern = "memory"
				case 3:
					e.Extern = "global"
				case 4:
					e.Extern = "tag"
				default:
					return nil, fmt.Errorf("section %d: export %s: unknown kind 0x%x", id, e.Name, kind)
				}
				info.Exports = append(info.Exports, e)
			}
		}
		if parsed := id == 1 || id == 2 || id == 3 || id == 5 || id == 7; parsed && s.err == nil && s.off != len(s.b) {
			s.err = fmt.Errorf("%d bytes left over", len(s.b)-s.off)
		}
		if s.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, s.err)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return info, nil
}

// exportedFuncType finds the type of function idx: an import's (kept on the
// Import) or a defined function's.
func exportedFuncType(imports []Import, funcTypes []int64, types []funcType, idx uint32) (funcType, error) {
	if int64(idx) >= int64(len(funcTypes)) {
		return funcType{}, fmt.Errorf("function index %d out of range", idx)
	}
	if t := funcTypes[idx]; t >= 0 {
		if t >= int64(len(types)) {
			return funcType{}, fmt.Errorf("type index %d out of range", t)
		}
		return types[t], nil
	}
	n := uint32(0)
	for _, im := range imports {
		if im.Extern != "func" {
			continue
		}
		if n == idx {
			return funcType{params: im.Params, results: im.Results}, nil
		}
		n++
	}
	return funcType{}, fmt.Errorf("function index %d out of range", idx)
}

func importKind(module string) ImportKind {
	switch module {
	case moduleWASI:
		return ImportWASI
	case moduleExtismEnv:
		return ImportExtismEnv
	case moduleExtismUser:
		return ImportHostFunc
	}
	return ImportOther
}

type funcType struct{ params, results []string }

// wasmReader reads the binary format; the first error sticks and every
// later read returns zero values.
type wasmReader struct {
	b   []byte
	off int
	err error
}

var errTruncated = errors.New("unexpected end of module")

func (r *wasmReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *wasmReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *wasmReader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if int64(n) > int64(len(r.b)-r.off) {
		r.fail(errTruncated)
		return nil
	}
	out := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return out
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *wasmReader) u32() uint32 {
	var v uint32
	for shift := 0; ; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift == 28 && c > 0x0f { // more than 32 bits, or a sixth byte
			r.fail(errors.New("integer too large"))
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

// vec reads a vector length, bounded by the bytes left (each element takes
// at least one), so a forged length cannot make the caller loop for long.
func (r *wasmReader) vec() int {
	n := r.u32()
	if int64(n) > int64(len(r.b)-r.off) {
		r.fail(errTruncated)
		return 0
	}
	return int(n)
}

func (r *wasmReader) name() string {
	b := r.bytes(r.u32())
	if r.err == nil && !utf8.Valid(b) {
		r.fail(errors.New("name is not valid UTF-8"))
	}
	return string(b)
}

func (r *wasmReader) valTypes() []string {
	n := r.vec()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		switch t := r.byte(); t {
		case 0x7f:
			out = append(out, "i32")
		case 0x7e:
			out = append(out, "i64")
		case 0x7d:
			out = append(out, "f32")
		case 0x7c:
			out = append(out, "f64")
		case 0x7b:
			out = append(out, "v128")
		case 0x70:
			out = append(out, "funcref")
		case 0x6f:
			out = append(out, "externref")
		default:
			r.fail(fmt.Errorf("unknown value type 0x%x", t))
		}
	}
	return out
}

func (r *wasmReader) limits() MemoryInfo {
	var mem MemoryInfo
	switch flag := r.byte(); flag {
	case 0x00:
		mem.MinPages = r.u32()
	case 0x01, 0x03: // 0x03: shared (threads)
		mem.MinPages, mem.MaxPages, mem.HasMax = r.u32(), r.u32(), true
	default:
		r.fail(fmt.Errorf("unsupported limits flag 0x%x", flag))
	}
	return mem
}

package runtime

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/workflow"
)

// Config configures a Runtime. The zero value is usable.
type Config struct {
	// CacheDir holds wazero's compilation cache, so a restart does not
	// recompile. Defaults to "": compiled code is cached in memory only. The
	// directory must serve this runtime only; it is created when missing.
	CacheDir string
	// CacheEntries bounds how many compiled modules stay in memory (LRU).
	// Defaults to 64.
	CacheEntries int
	// MaxMemoryMB caps each linear memory of a run, whatever the manifest
	// says. Defaults to 256; at most 4096.
	MaxMemoryMB int
	// DefaultMemoryMB is the memory limit of a run whose manifest sets none.
	// Defaults to 32 (or MaxMemoryMB when smaller).
	DefaultMemoryMB int
	// MaxTimeout caps the wall time of a run. Defaults to 5m.
	MaxTimeout time.Duration
	// DefaultTimeout is the wall time of a run whose manifest sets none.
	// Defaults to 30s (or MaxTimeout when smaller).
	DefaultTimeout time.Duration
	// MaxOutputBytes caps a run's output. Defaults to 16 MiB.
	MaxOutputBytes int
	// MaxLogBytes caps the message bytes a run may log. Defaults to 64 KiB.
	MaxLogBytes int
	// Logger is accepted like every service's, but the runtime logs nothing
	// itself: guest logs come back in each Result. Defaults to discarding.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	defaultCacheEntries   = 64
	defaultMaxMemoryMB    = 256
	defaultMemoryMB       = 32
	defaultMaxTimeout     = 5 * time.Minute
	defaultTimeout        = 30 * time.Second
	defaultMaxOutputBytes = 16 << 20
	defaultMaxLogBytes    = 64 << 10
	maxMemoryMB           = 4096 // 65536 pages, all of wasm32
)

// extismMaxVarBytes bounds an Extism guest's var_set store (host memory).
// Set explicitly: a ManifestMemory built in Go would leave it 0 (vars panic).
const extismMaxVarBytes = 1 << 20

// Runtime runs node modules. It is safe for concurrent use; Close it when done.
type Runtime struct {
	cfg      Config
	ccache   wazero.CompilationCache
	rtConfig wazero.RuntimeConfig
	// wz compiles every module (validating it) and runs WASI commands.
	wz     wazero.Runtime
	modCfg wazero.ModuleConfig
	cache  *moduleCache
	closed atomic.Bool
}

// New applies Config's defaults, validates it and builds a Runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.CacheEntries = cmp.Or(cfg.CacheEntries, defaultCacheEntries)
	cfg.MaxMemoryMB = cmp.Or(cfg.MaxMemoryMB, defaultMaxMemoryMB)
	cfg.DefaultMemoryMB = cmp.Or(cfg.DefaultMemoryMB, min(defaultMemoryMB, cfg.MaxMemoryMB))
	cfg.MaxTimeout = cmp.Or(cfg.MaxTimeout, defaultMaxTimeout)
	cfg.DefaultTimeout = cmp.Or(cfg.DefaultTimeout, min(defaultTimeout, cfg.MaxTimeout))
	cfg.MaxOutputBytes = cmp.Or(cfg.MaxOutputBytes, defaultMaxOutputBytes)
	cfg.MaxLogBytes = cmp.Or(cfg.MaxLogBytes, defaultMaxLogBytes)
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	switch {
	case cfg.CacheEntries < 0:
		return nil, fmt.Errorf("runtime: CacheEntries %d is negative", cfg.CacheEntries)
	case cfg.MaxMemoryMB < 0 || cfg.MaxMemoryMB > maxMemoryMB:
		return nil, fmt.Errorf("runtime: MaxMemoryMB %d is outside 1..%d", cfg.MaxMemoryMB, maxMemoryMB)
	case cfg.DefaultMemoryMB < 0 || cfg.DefaultMemoryMB > cfg.MaxMemoryMB:
		return nil, fmt.Errorf("runtime: DefaultMemoryMB %d is outside 1..MaxMemoryMB (%d)", cfg.DefaultMemoryMB, cfg.MaxMemoryMB)
	case cfg.MaxTimeout < 0:
		return nil, fmt.Errorf("runtime: MaxTimeout %s is negative", cfg.MaxTimeout)
	case cfg.DefaultTimeout < 0 || cfg.DefaultTimeout > cfg.MaxTimeout:
		return nil, fmt.Errorf("runtime: DefaultTimeout %s is outside 0..MaxTimeout (%s)", cfg.DefaultTimeout, cfg.MaxTimeout)
	case cfg.MaxOutputBytes < 0:
		return nil, fmt.Errorf("runtime: MaxOutputBytes %d is negative", cfg.MaxOutputBytes)
	case cfg.MaxLogBytes < 0:
		return nil, fmt.Errorf("runtime: MaxLogBytes %d is negative", cfg.MaxLogBytes)
	}

	ccache := wazero.NewCompilationCache()
	if cfg.CacheDir != "" {
		var err error
		if ccache, err = newDirCache(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("runtime: compilation cache: %w", err)
		}
	}
	// No memory limit here: memoryLimiter enforces each run's own.
	rtConfig := wazero.NewRuntimeConfig().
		WithCompilationCache(ccache).
		WithCloseOnContextDone(true)
	r := &Runtime{
		cfg:      cfg,
		ccache:   ccache,
		rtConfig: rtConfig,
		wz:       wazero.NewRuntimeWithConfig(ctx, rtConfig),
		// Deny by default: no args, environment, files or network; a fake
		// clock. Randomness is real, so guests do not all draw the same ids.
		modCfg: wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(rand.Reader),
		cache:  newModuleCache(cfg.CacheEntries),
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.wz); err != nil {
		_ = r.wz.Close(ctx)
		_ = ccache.Close(ctx)
		return nil, fmt.Errorf("runtime: instantiate WASI: %w", err)
	}
	// Extism's log level is process-wide. Info and up reach the run's logs;
	// debug and trace would also carry the SDK's own chatter (and at trace it
	// prints to stderr before a logger can be set), so they stay off.
	extism.SetLogLevel(extism.LogLevelInfo)
	return r, nil
}

// dirCacheMu serializes wazero.NewCompilationCacheWithDir: wazero v1.12.0
// fills a package-level version string on first use without
// synchronisation, a data race when two runtimes start at once.
var dirCacheMu sync.Mutex

func newDirCache(dir string) (wazero.CompilationCache, error) {
	dirCacheMu.Lock()
	defer dirCacheMu.Unlock()
	return wazero.NewCompilationCacheWithDir(dir)
}

// ErrClosed is returned by a Runtime used after Close.
var ErrClosed = errors.New("runtime: closed")

// Close frees every compiled module and the compilation cache (the disk
// cache stays). Runs still in progress fail. Calling it again does nothing.
func (r *Runtime) Close(ctx context.Context) error {
	if r.closed.Swap(true) {
		return nil
	}
	r.cache.clear(ctx)
	return errors.Join(r.wz.Close(ctx), r.ccache.Close(ctx))
}

// Stats reports the module cache's counters. Safe for concurrent use.
func (r *Runtime) Stats() CacheStats {
	return r.cache.snapshot()
}

// RunParams is one run of a module.
type RunParams struct {
	// Wasm is the module's bytes.
	Wasm []byte
	// Digest is "sha256:<hex>" of Wasm; computed when empty. It keys the
	// module cache: a run whose digest is cached does not hash Wasm again
	// (a compile checks it).
	Digest string
	// Manifest is the module's manifest: ABI, entrypoint, IO mode and limits.
	Manifest *workflow.Manifest
	// Input is what Run calls the module with: the input document (document
	// IO) or an item's bytes (raw IO). A Session does not use it: each call
	// brings its own.
	Input []byte
	// Limits tighten the manifest's for this node (a node's timeout_ms); zero
	// fields keep the manifest's. Neither can exceed the Config's maxima.
	Limits workflow.Limits
	// HostFuncs are exactly the host functions this run may use: those the
	// manifest declares and the tenant granted.
	HostFuncs []hostfuncs.Func
}

// Result is what a run produced.
type Result struct {
	// Output is the guest's output (validated as a JSON object for document IO).
	Output []byte
	// Logs are the guest's log lines, at most Config.MaxLogBytes (or the
	// manifest's max_log_bytes) of messages in total.
	Logs []LogLine
	// LogsTruncated says lines or parts of lines were dropped at the cap.
	LogsTruncated bool
	// Duration is the wall time from the start of the run (after compiling
	// and checking the module) to the end of the call, or for a session to
	// its Close.
	Duration time.Duration
	// MemoryPeakBytes is the largest size each linear memory of the run
	// reached, summed (for Extism, the guest's and the kernel's); for a
	// session, the largest such sum of its instances.
	MemoryPeakBytes uint64
}

// Run runs the module once, on a fresh instance, with p.Input, and returns
// its output. A failure of the module is a *NodeError; when the guest ran
// the Result comes with it (not nil), holding its logs. The deadline is the
// earlier of ctx's and the run's time limit. Safe for concurrent use.
func (r *Runtime) Run(ctx context.Context, p *RunParams) (*Result, error) {
	if p == nil {
		return nil, errors.New("runtime: run: params and manifest are required")
	}
	s, err := r.open(ctx, p, "run", p.Input)
	if err != nil {
		return nil, err
	}
	out, callErr := s.Call(ctx, p.Input)
	res := s.Close(ctx)
	if callErr != nil {
		return res, callErr
	}
	res.Output = out
	return res, nil
}

// module returns the cached module of digest, compiling wasm on a miss.
func (r *Runtime) module(ctx context.Context, digest string, wasm []byte) (*module, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	return r.cache.acquire(ctx, digest, func(m *module) error {
		if err := checkDigest(digest, wasm); err != nil {
			return err
		}
		info, err := parseModule(wasm)
		if err != nil {
			return nodeErr(KindInvalidModule, err, "%v", err)
		}
		info.Digest = digest
		maxPages := uint32(r.cfg.MaxMemoryMB) * 16 //nolint:gosec // New caps MaxMemoryMB at 4096
		if info.Memory != nil && info.Memory.MinPages > maxPages {
			return nodeErr(KindMemoryLimit, nil, "module declares %d pages of memory, over the maximum of %d MiB",
				info.Memory.MinPages, r.cfg.MaxMemoryMB)
		}
		// Compiling is the runtime's work, not the guest's: it runs to the end
		// even if this caller gives up, as other callers may wait for it.
		compiled, err := r.wz.CompileModule(context.WithoutCancel(ctx), wasm)
		if err != nil {
			return nodeErr(KindInvalidModule, err, "%s", firstLine(err))
		}
		m.info, m.compiled = info, compiled
		return nil
	})
}

// checkModule checks, before any guest code runs, that the module can run
// under abi with entry, the run's memory limit and host functions.
func checkModule(info *ModuleInfo, abi, entry string, lim runLimits, funcs map[string]hostfuncs.Func) error {
	if info.Memory != nil && uint64(info.Memory.MinPages)*pageSize > lim.memoryBytes() {
		return nodeErr(KindMemoryLimit, nil, "module declares %d pages of memory, over the run's limit of %s",
			info.Memory.MinPages, formatBytes(lim.memoryBytes()))
	}
	for _, im := range info.Imports {
		name := im.Module + "." + im.Name
		switch {
		case im.Kind == ImportHostFunc && abi == workflow.ABIExtism:
			if _, ok := funcs[im.Name]; !ok {
				if im.Capability == "" {
					return nodeErr(KindCapabilityNotGranted, nil, "imports %s, which no capability provides", name)
				}
				return nodeErr(KindCapabilityNotGranted, nil, "imports %s, which needs the %q capability, not granted",
					name, im.Capability)
			}
			if im.Extern != "func" || !isHandleFunc(im.Params, im.Results) {
				return nodeErr(KindInvalidModule, nil, "imports %s as %s, want func (i64) -> i64", name, signature(im.Extern, im.Params, im.Results))
			}
		case im.Kind == ImportExtismEnv && abi == workflow.ABIExtism, im.Kind == ImportWASI:
			if im.Extern != "func" {
				return nodeErr(KindInvalidModule, nil, "imports %s as a %s; only functions are provided", name, im.Extern)
			}
		default:
			return nodeErr(KindInvalidModule, nil, "imports %s, which nothing provides to %s modules", name, abi)
		}
	}
	e, ok := info.export(entry)
	if !ok || e.Extern != "func" {
		return nodeErr(KindMissingExport, nil, "module exports no function %q", entry)
	}
	switch {
	case abi == workflow.ABIExtism && len(e.Params) == 0 && (len(e.Results) == 0 || slices.Equal(e.Results, []string{"i32"})):
	case abi == workflow.ABIWASICommand && len(e.Params) == 0 && len(e.Results) == 0:
	default:
		want := "() -> i32"
		if abi == workflow.ABIWASICommand {
			want = "() -> ()"
		}
		return nodeErr(KindInvalidModule, nil, "entrypoint %q is %s, want %s",
			entry, signature("func", e.Params, e.Results), want)
	}
	return nil
}

func signature(extern string, params, results []string) string {
	if extern != "func" {
		return extern
	}
	return "(" + strings.Join(params, ", ") + ") -> (" + strings.Join(results, ", ") + ")"
}

// runLimits are one run's limits after defaults and caps.
type runLimits struct {
	memoryMB  int
	timeout   time.Duration
	maxOutput int
	maxLog    int
}

func (l runLimits) memoryBytes() uint64 { return uint64(l.memoryMB) << 20 } //nolint:gosec // memoryMB is in [1, 4096]

// limits resolves a run's limits: the manifest's, or the default, tightened
// by the node's, capped by the operator's maxima.
func (r *Runtime) limits(module, node workflow.Limits) runLimits {
	pick := func(module, node, def, maxV int) int {
		v := def
		if module > 0 {
			v = module
		}
		if node > 0 && node < v {
			v = node
		}
		return min(v, maxV)
	}
	return runLimits{
		memoryMB: pick(module.MemoryMB, node.MemoryMB, r.cfg.DefaultMemoryMB, r.cfg.MaxMemoryMB),
		timeout: time.Duration(pick(module.TimeoutMS, node.TimeoutMS,
			int(r.cfg.DefaultTimeout.Milliseconds()), int(r.cfg.MaxTimeout.Milliseconds()))) * time.Millisecond,
		maxOutput: pick(module.MaxOutputBytes, node.MaxOutputBytes, r.cfg.MaxOutputBytes, r.cfg.MaxOutputBytes),
		maxLog:    pick(module.MaxLogBytes, node.MaxLogBytes, r.cfg.MaxLogBytes, r.cfg.MaxLogBytes),
	}
}

func digestOf(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkDigest checks a caller's digest before the module is compiled and
// cached under it.
func checkDigest(digest string, wasm []byte) error {
	if got := digestOf(wasm); got != digest {
		return fmt.Errorf("runtime: digest %s does not match the module's bytes (%s)", digest, got)
	}
	return nil
}

func validDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// runKey keys the run's state in the call's context, where host function
// adapters find it.
type runKey struct{}

// run is the state of one run or session.
type run struct {
	limits runLimits
	funcs  map[string]hostfuncs.Func
	mem    *memoryLimiter
	logs   *logBuffer
	output *outputBuffer
	start  time.Time
	end    time.Time // when the session closed

	mu      sync.Mutex
	hostErr *NodeError // the first failure of a host function
}

func (st *run) elapsed() time.Duration {
	return time.Since(st.start).Round(time.Millisecond)
}

// failHost records the first host-side failure; it decides the run's error.
func (st *run) failHost(err *NodeError) *NodeError {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.hostErr == nil {
		st.hostErr = err
	}
	return st.hostErr
}

// resetCall forgets the previous call's host failure before the next call
// of a session.
func (st *run) resetCall() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.hostErr = nil
}

func (st *run) hostFailure() *NodeError {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.hostErr
}

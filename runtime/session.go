package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/workflow"
)

// Session calls one module several times, as a raw-IO node run does: its
// entrypoint once per item (DESIGN §4, manifest "io": "raw").
//
// By default every call of a session goes to one instance, so whatever a
// plugin keeps between calls (Extism vars, its own globals and heap) is
// there for the next one. With the manifest's "instance": "per_item", and
// always for a WASI command (which runs once), each call gets a fresh
// instance. A call that does not end with the guest returning on its own —
// a trap, a failed host function, a refused memory grow, a WASI exit, the
// deadline — leaves its instance in a state nobody can vouch for, so the
// next call gets a fresh one; a failure the guest reports itself (error_set,
// a non-zero return code) keeps the instance.
//
// Limits apply to the whole session: one wall-time deadline, counted from
// the start of the session, for all its calls; one log cap for all their
// lines; the memory limit for each instance. Each reply is held to the
// output limit; the caller checks what it builds from the replies with
// [Session.CheckOutput].
//
// Call returns the same *NodeError kinds as [Runtime.Run]. A Session is not
// safe for concurrent use; Close it when done.
type Session struct {
	r        *Runtime
	m        *module
	plugin   *extism.CompiledPlugin // extism-v1 only
	abi      string
	entry    string
	io       string
	perItem  bool
	st       *run
	deadline time.Time
	inst     *extismInstance // the instance of the next call; nil when it needs a fresh one
	peak     uint64          // the largest MemoryPeakBytes of the instances closed so far
	closed   bool
}

// Session prepares calls of the module described by p (its Input is not
// used: each [Session.Call] brings its own). It compiles the module on a
// cache miss and checks, before any guest code runs, what Run checks: the
// ABI, the entrypoint, the memory the module declares and its imports
// against p.HostFuncs, failing with a *NodeError. The session's time limit
// starts now. Safe for concurrent use; the Session itself is not.
func (r *Runtime) Session(ctx context.Context, p *RunParams) (*Session, error) {
	return r.open(ctx, p, "session", nil)
}

// open checks p (and input, against the memory limit, before compiling
// anything), acquires the compiled module and returns a Session holding it.
func (r *Runtime) open(ctx context.Context, p *RunParams, op string, input []byte) (*Session, error) {
	if p == nil || p.Manifest == nil {
		return nil, fmt.Errorf("runtime: %s: params and manifest are required", op)
	}
	abi := p.Manifest.ABI
	if abi != workflow.ABIExtism && abi != workflow.ABIWASICommand {
		return nil, nodeErr(KindInvalidModule, nil, "unknown abi %q", abi)
	}
	funcs := make(map[string]hostfuncs.Func, len(p.HostFuncs))
	for _, f := range p.HostFuncs {
		if f.Name == "" || f.Call == nil {
			return nil, fmt.Errorf("runtime: %s: host function %q has no name or no Call", op, f.Name)
		}
		if _, dup := funcs[f.Name]; dup {
			return nil, fmt.Errorf("runtime: %s: host function %q given twice", op, f.Name)
		}
		funcs[f.Name] = f
	}
	lim := r.limits(p.Manifest.Limits, p.Limits)
	if uint64(len(input)) > lim.memoryBytes() {
		return nil, inputTooLarge(len(input), lim)
	}
	digest := p.Digest
	if digest == "" {
		digest = digestOf(p.Wasm)
	} else if !validDigest(digest) {
		return nil, fmt.Errorf("runtime: %s: digest %q is not sha256:<64 hex digits>", op, digest)
	}

	m, err := r.module(ctx, digest, p.Wasm)
	if err != nil {
		return nil, err
	}
	entry := p.Manifest.EntrypointOrDefault()
	if err := checkModule(m.info, abi, entry, lim, funcs); err != nil {
		r.cache.release(ctx, m)
		return nil, err
	}
	var plugin *extism.CompiledPlugin
	if abi == workflow.ABIExtism {
		if plugin, err = m.extismPlugin(ctx, r, p.Wasm); err != nil {
			r.cache.release(ctx, m)
			return nil, err
		}
	}
	st := &run{
		limits: lim,
		funcs:  funcs,
		mem:    &memoryLimiter{limit: lim.memoryBytes()},
		logs:   &logBuffer{max: lim.maxLog},
		output: &outputBuffer{max: lim.maxOutput},
		start:  time.Now(),
	}
	return &Session{
		r: r, m: m, plugin: plugin, abi: abi, entry: entry, st: st,
		io:       cmp.Or(p.Manifest.IO, workflow.IODocument),
		perItem:  p.Manifest.Instance == workflow.InstancePerItem || abi == workflow.ABIWASICommand,
		deadline: st.start.Add(lim.timeout),
	}, nil
}

func inputTooLarge(n int, lim runLimits) *NodeError {
	return nodeErr(KindInputTooLarge, nil, "input of %d bytes exceeds the memory limit of %s",
		n, formatBytes(lim.memoryBytes()))
}

// ErrSessionClosed is returned by a call of a closed Session.
var ErrSessionClosed = errors.New("runtime: session closed")

// Call calls the entrypoint with input and returns the reply: for document
// IO a JSON object, for raw IO any bytes up to the output limit. A failure
// of the module is a *NodeError (kinds as for [Runtime.Run]); once the
// session's deadline has passed, or ctx is done, every call fails with
// KindTimeout or KindCanceled. The deadline is the earlier of ctx's and the
// session's.
func (s *Session) Call(ctx context.Context, input []byte) ([]byte, error) {
	if s.closed {
		return nil, ErrSessionClosed
	}
	st := s.st
	if uint64(len(input)) > st.limits.memoryBytes() {
		return nil, inputTooLarge(len(input), st.limits)
	}
	st.resetCall()
	callCtx, cancel := context.WithDeadline(ctx, s.deadline)
	defer cancel()
	callCtx = context.WithValue(callCtx, runKey{}, st)
	if err := callCtx.Err(); err != nil {
		return nil, st.classify(ctx, callCtx, err)
	}

	var (
		out   []byte
		clean bool
		err   error
	)
	if s.abi == workflow.ABIWASICommand {
		s.fresh()
		st.output = &outputBuffer{max: st.limits.maxOutput}
		out, err = s.r.callWASI(experimental.WithMemoryAllocator(callCtx, st.mem), s.m, s.entry, input, st)
		s.peak = max(s.peak, st.mem.peak())
	} else {
		if s.inst == nil {
			s.fresh()
			if s.inst, err = s.r.newExtismInstance(experimental.WithMemoryAllocator(callCtx, st.mem), s.plugin, st); err != nil {
				s.peak = max(s.peak, st.mem.peak())
				return nil, st.classify(ctx, callCtx, err)
			}
		}
		out, clean, err = s.inst.call(callCtx, s.entry, input, st)
		if !clean || s.perItem || st.mem.refused() {
			s.closeInstance(ctx)
		}
	}
	if err != nil {
		return nil, st.classify(ctx, callCtx, err)
	}
	if err := checkOutput(out, st.limits.maxOutput, s.io); err != nil {
		return nil, err
	}
	return out, nil
}

// fresh gives the next instance its own memory limiter.
func (s *Session) fresh() {
	s.st.mem = &memoryLimiter{limit: s.st.limits.memoryBytes()}
}

func (s *Session) closeInstance(ctx context.Context) {
	if s.inst != nil {
		s.inst.close(ctx)
		s.inst = nil
		s.peak = max(s.peak, s.st.mem.peak())
	}
}

// CheckOutput applies the session's output limit to what the caller built
// from the replies (a raw-IO node's output document): a *NodeError of kind
// KindOutputTooLarge when out is over it.
func (s *Session) CheckOutput(out []byte) error {
	if len(out) > s.st.limits.maxOutput {
		return nodeErr(KindOutputTooLarge, nil, "output of %d bytes exceeds the limit of %d bytes", len(out), s.st.limits.maxOutput)
	}
	return nil
}

// Close frees the instance and the module, and returns what the session's
// calls produced together: their log lines, the wall time since the
// session started and the largest memory peak of its instances (Output is
// nil). Calling it again returns the same figures.
func (s *Session) Close(ctx context.Context) *Result {
	if !s.closed {
		s.closed = true
		s.closeInstance(ctx)
		s.release(ctx)
		s.st.end = time.Now()
	}
	res := &Result{Duration: s.st.end.Sub(s.st.start), MemoryPeakBytes: s.peak}
	res.Logs, res.LogsTruncated = s.st.logs.result()
	return res
}

// release hands the module back to the cache.
func (s *Session) release(ctx context.Context) {
	if s.m != nil {
		s.r.cache.release(ctx, s.m)
		s.m = nil
	}
}

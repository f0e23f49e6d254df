package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	extism "github.com/extism/go-sdk"

	"github.com/wasmflow/wasmflow/hostfuncs"
)

// extismPlugin returns the module compiled for Extism, building it on first use.
//
// # Host functions
//
// Extism binds host functions when it compiles a plugin, while the functions
// a run may use ([RunParams.HostFuncs]) change from run to run. So the plugin
// is compiled once per digest with one adapter per function the module
// imports from extism:host/user, and each adapter dispatches, per call, to
// the run's own hostfuncs.Func: it finds the run's state in the call's
// context (call-scoped data, put there by Run). Run has refused any import
// the run was not given before instantiating, so an adapter never serves a
// function its run lacks; if it were called anyway it would fail the run.
//
// An adapter reads the guest's handle from Extism memory, calls the Func
// with those bytes and writes the reply to a new handle. A Func error (or
// panic) is recorded as the run's failure and stops the guest.
//
// The plugin's manifest keeps AllowedHosts empty, so Extism's built-in
// http_request (host-name checks only, redirects to anywhere) refuses every
// request.
func (m *module) extismPlugin(ctx context.Context, r *Runtime, wasm []byte) (*extism.CompiledPlugin, error) {
	m.pluginMu.Lock()
	defer m.pluginMu.Unlock()
	if m.plugin != nil || m.pluginErr != nil {
		return m.plugin, m.pluginErr
	}
	// A cache hit did not look at this run's bytes: check them before they
	// are compiled for every later run of the digest.
	if err := checkDigest(m.digest, wasm); err != nil {
		return nil, err
	}
	var funcs []extism.HostFunction
	for _, im := range m.info.Imports {
		if im.Kind == ImportHostFunc && im.Extern == "func" && isHandleFunc(im.Params, im.Results) {
			funcs = append(funcs, hostFuncAdapter(im.Name))
		}
	}
	manifest := extism.Manifest{
		Wasm: []extism.Wasm{extism.WasmData{Data: wasm}},
		// Both byte caps set explicitly: built in Go, they would be 0. The
		// built-in HTTP client is refused anyway (no AllowedHosts).
		Memory: &extism.ManifestMemory{MaxVarBytes: extismMaxVarBytes, MaxHttpResponseBytes: 0},
	}
	m.plugin, m.pluginErr = extism.NewCompiledPlugin(context.WithoutCancel(ctx), manifest,
		extism.PluginConfig{RuntimeConfig: r.rtConfig, EnableWasi: m.info.importsWASI()}, funcs)
	if m.pluginErr != nil {
		m.pluginErr = nodeErr(KindInvalidModule, m.pluginErr, "extism: %s", firstLine(m.pluginErr))
	}
	return m.plugin, m.pluginErr
}

// extismInstance is one instance of an Extism plugin, with the streams
// that turn its WASI stdout and stderr into log lines.
type extismInstance struct {
	plugin         *extism.Plugin
	stdout, stderr *streamLog
}

// newExtismInstance instantiates the plugin for st: its memories under
// st.mem, its logs into st.logs. ctx carries the memory allocator and the
// deadline (a start section runs under it).
func (r *Runtime) newExtismInstance(ctx context.Context, compiled *extism.CompiledPlugin, st *run) (*extismInstance, error) {
	in := &extismInstance{
		stdout: &streamLog{logs: st.logs, level: LevelStdout},
		stderr: &streamLog{logs: st.logs, level: LevelStderr},
	}
	plugin, err := compiled.Instance(ctx, extism.PluginInstanceConfig{
		ModuleConfig: r.modCfg.WithStdout(in.stdout).WithStderr(in.stderr),
	})
	if err != nil {
		return nil, &instantiateError{err}
	}
	plugin.SetLogger(func(level extism.LogLevel, msg string) {
		st.logs.add(strings.ToLower(level.String()), msg)
	})
	st.mem.markKernel(plugin.Memory())
	in.plugin = plugin
	return in, nil
}

// flush logs what the guest left on its streams without a final newline.
func (in *extismInstance) flush() {
	in.stdout.flush()
	in.stderr.flush()
}

// close flushes the streams and frees the instance.
func (in *extismInstance) close(ctx context.Context) {
	in.flush()
	_ = in.plugin.Close(context.WithoutCancel(ctx))
}

// call calls entry with input. clean reports whether the guest returned on
// its own (with or without an error it reported): only then is the
// instance fit for another call.
func (in *extismInstance) call(ctx context.Context, entry string, input []byte, st *run) (out []byte, clean bool, err error) {
	defer in.flush()
	plugin := in.plugin
	kernel := plugin.Memory()

	// Extism drops an input its kernel cannot allocate and calls the guest
	// with an empty one. Its base memory plus the input plus a page of
	// headroom always fits; past that, set the input once first to see. (Not
	// under ctx: on a failed reset the SDK prints to stdout.)
	if uint64(len(input))+uint64(kernel.Size())+pageSize > st.mem.limit {
		if _, err := plugin.SetInputWithContext(context.WithoutCancel(ctx), input); err != nil || st.mem.kernelRefused() {
			return nil, false, nodeErr(KindInputTooLarge, err, "input of %d bytes does not fit in the memory limit of %s",
				len(input), formatBytes(st.mem.limit))
		}
	}

	rc, out, err := plugin.CallWithContext(ctx, entry, input)
	if st.mem.kernelRefused() {
		// The kernel lost a handle (output, reply, log line): whatever the
		// guest made of that, the run is not sound.
		return nil, false, errors.Join(errors.New("the Extism kernel ran out of memory"), err)
	}
	if err != nil {
		// An error_set after a clean return comes back as its bare message.
		if msg := plugin.GetErrorWithContext(context.WithoutCancel(ctx)); msg != "" && msg == err.Error() {
			return nil, true, &guestFailure{message: msg, code: rc}
		}
		return nil, false, err
	}
	if rc != 0 {
		return nil, true, &guestFailure{message: fmt.Sprintf("entrypoint %q returned %d", entry, rc), code: rc}
	}
	return out, true, nil
}

// hostFuncAdapter is the Extism host function for import name of
// extism:host/user, dispatching to the calling run's hostfuncs.Func.
func hostFuncAdapter(name string) extism.HostFunction {
	return extism.NewHostFunctionWithStack(name,
		func(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
			reply, err := callHostFunc(ctx, p, name, stack[0])
			if err != nil {
				// Stops the guest; wazero turns the panic into the call's
				// error, and the recorded failure decides the run's error.
				panic(err)
			}
			stack[0] = reply
		},
		[]extism.ValueType{extism.ValueTypePTR}, []extism.ValueType{extism.ValueTypePTR})
}

// callHostFunc runs one host function call for the guest: handle in, handle
// out. Nothing the guest passes makes it panic; it returns the run's
// failure instead.
func callHostFunc(ctx context.Context, p *extism.CurrentPlugin, name string, handle uint64) (reply uint64, err error) {
	st, ok := ctx.Value(runKey{}).(*run)
	if !ok {
		return 0, fmt.Errorf("host function %s called outside a run", name)
	}
	f, ok := st.funcs[name]
	if !ok {
		return 0, st.failHost(nodeErr(KindCapabilityNotGranted, nil, "called extism:host/user.%s, not granted to this run", name))
	}
	in, err := p.ReadBytes(handle)
	if err != nil {
		return 0, st.failHost(nodeErr(KindHostError, err, "%s: invalid input handle %d", name, handle))
	}
	out, err := safeCall(ctx, f.Call, in)
	if errors.Is(err, hostfuncs.ErrSecretNotGranted) {
		return 0, st.failHost(nodeErr(KindSecretNotGranted, err, "%s: %v", name, err))
	}
	if err != nil {
		return 0, st.failHost(nodeErr(KindHostError, err, "%s: %v", name, err))
	}
	if len(out) == 0 {
		return 0, nil
	}
	ptr, err := p.AllocWithContext(ctx, uint64(len(out)))
	if err == nil && ptr == 0 {
		err = errors.New("the Extism kernel ran out of memory")
	}
	if err == nil && ptr > math.MaxUint32 {
		err = fmt.Errorf("the Extism kernel returned offset %d, outside a 32-bit memory", ptr)
	}
	if err != nil || !p.Memory().Write(uint32(ptr), out) { //nolint:gosec // ptr ≤ MaxUint32, checked above
		return 0, st.failHost(nodeErr(KindMemoryLimit, err, "%s: no room for a reply of %d bytes in the memory limit of %s",
			name, len(out), formatBytes(st.mem.limit)))
	}
	return ptr, nil
}

// safeCall calls f, turning a panic into an error.
func safeCall(ctx context.Context, f func(context.Context, []byte) ([]byte, error), in []byte) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return f(ctx, in)
}

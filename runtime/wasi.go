package runtime

import (
	"bytes"
	"context"
	"errors"

	"github.com/tetratelabs/wazero/sys"
)

// callWASI runs a WASI command: input on stdin, output from stdout, stderr
// into the run's logs. The module is instantiated without running _start,
// then entry is called, so guest code runs only under the run's context.
func (r *Runtime) callWASI(ctx context.Context, m *module, entry string, input []byte, st *run) ([]byte, error) {
	stderr := &streamLog{logs: st.logs, level: LevelStderr}
	defer stderr.flush()
	cfg := r.modCfg.WithStdin(bytes.NewReader(input)).WithStdout(st.output).WithStderr(stderr)
	mod, err := r.wz.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
		return nil, &instantiateError{err}
	}
	defer func() { _ = mod.Close(context.WithoutCancel(ctx)) }()
	_, err = mod.ExportedFunction(entry).Call(ctx)
	if exit, ok := errors.AsType[*sys.ExitError](err); ok && exit.ExitCode() == 0 {
		err = nil
	}
	if err == nil && st.output.overflow {
		err = errOutputTooLarge
	}
	if err != nil {
		return nil, err
	}
	return st.output.buf.Bytes(), nil
}

package runtime

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/workflow"
)

const header = "\x00asm\x01\x00\x00\x00"

func TestParseModule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wasm string
		err  string
		want *ModuleInfo
	}{
		{name: "Empty", wasm: header, want: &ModuleInfo{}},
		{name: "CustomSectionSkipped", wasm: header + "\x00\x03\x01a\x00", want: &ModuleInfo{}},
		{name: "BadVersion", wasm: "\x00asm\x02\x00\x00\x00", err: "not a WebAssembly 1.0 binary (bad magic or version)"},
		{name: "TypeForm", wasm: header + "\x01\x02\x01\x5f", err: "section 1: unsupported type form 0x5f"},
		{name: "ValueType", wasm: header + "\x01\x05\x01\x60\x01\x01\x00", err: "section 1: unknown value type 0x1"},
		{name: "VecLongerThanSection", wasm: header + "\x01\x02\x05\x60", err: "section 1: unexpected end of module"},
		{name: "LeftOver", wasm: header + "\x01\x02\x00\x00", err: "section 1: 1 bytes left over"},
		{name: "SectionSizeSixBytes", wasm: header + "\x01\x80\x80\x80\x80\x80\x00", err: "integer too large"},
		{name: "SectionSizeTooLarge", wasm: header + "\x01\xff\xff\xff\xff\x1f", err: "integer too large"},
		{name: "SectionPastEnd", wasm: header + "\x01\x05\x00", err: "unexpected end of module"},
		{name: "ImportKind", wasm: header + "\x02\x07\x01\x01m\x01n\x09\x00", err: "section 2: import m.n: unknown kind 0x9"},
		{name: "ImportType", wasm: header + "\x02\x07\x01\x01m\x01n\x00\x05", err: "section 2: type index 5 out of range"},
		{name: "ImportName", wasm: header + "\x02\x07\x01\x01\xff\x01n\x00\x00", err: "section 2: name is not valid UTF-8"},
		{name: "ImportTag", wasm: header + "\x01\x04\x01\x60\x00\x00" + "\x02\x08\x01\x01m\x01n\x04\x00\x00",
			want: &ModuleInfo{Imports: []Import{{Module: "m", Name: "n", Kind: ImportOther, Extern: "tag"}}}},
		{name: "ExportKind", wasm: header + "\x07\x05\x01\x01e\x09\x00", err: "section 7: export e: unknown kind 0x9"},
		{name: "ExportFuncIndex", wasm: header + "\x07\x05\x01\x01e\x00\x03", err: "section 7: function index 3 out of range"},
		{name: "ExportFuncType", wasm: header + "\x03\x02\x01\x07" + "\x07\x05\x01\x01f\x00\x00", err: "section 7: type index 7 out of range"},
		{name: "ExportTag", wasm: header + "\x07\x05\x01\x01e\x04\x00",
			want: &ModuleInfo{Exports: []Export{{Name: "e", Extern: "tag"}}}},
		{name: "LimitsFlag", wasm: header + "\x05\x03\x01\x04\x01", err: "section 5: unsupported limits flag 0x4"},
		{name: "SharedMemory", wasm: header + "\x05\x04\x01\x03\x01\x02",
			want: &ModuleInfo{Memory: &MemoryInfo{MinPages: 1, MaxPages: 2, HasMax: true}}},
		{name: "FirstMemoryCounts", wasm: header + "\x05\x05\x02\x00\x01\x00\x07",
			want: &ModuleInfo{Memory: &MemoryInfo{MinPages: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info, err := parseModule([]byte(tc.wasm))
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				require.Nil(t, info)
				return
			}
			require.NoError(t, err)
			tc.want.Size = len(tc.wasm)
			if tc.want.Imports == nil {
				tc.want.Imports = []Import{}
			}
			if tc.want.Exports == nil {
				tc.want.Exports = []Export{}
			}
			require.Equal(t, tc.want, info)
		})
	}
}

func TestCheckModule(t *testing.T) {
	t.Parallel()
	lim := runLimits{memoryMB: 1}
	funcs := map[string]hostfuncs.Func{"wasmflow_secret_get": {Name: "wasmflow_secret_get"}}
	run := []Export{{Name: "run", Extern: "func", Results: []string{"i32"}}, {Name: "_start", Extern: "func"}}
	for _, tc := range []struct {
		name string
		abi  string
		info ModuleInfo
		kind ErrorKind
		msg  string
	}{
		{name: "HostFuncSignature", abi: workflow.ABIExtism,
			info: ModuleInfo{Exports: run, Imports: []Import{{Module: moduleExtismUser, Name: "wasmflow_secret_get",
				Kind: ImportHostFunc, Extern: "func", Params: []string{"i32"}, Capability: "secrets"}}},
			kind: KindInvalidModule, msg: "imports extism:host/user.wasmflow_secret_get as (i32) -> (), want func (i64) -> i64"},
		{name: "HostFuncNotAFunction", abi: workflow.ABIExtism,
			info: ModuleInfo{Exports: run, Imports: []Import{{Module: moduleExtismUser, Name: "wasmflow_secret_get",
				Kind: ImportHostFunc, Extern: "global", Capability: "secrets"}}},
			kind: KindInvalidModule, msg: "imports extism:host/user.wasmflow_secret_get as global, want func (i64) -> i64"},
		{name: "WASIMemory", abi: workflow.ABIWASICommand,
			info: ModuleInfo{Exports: run, Imports: []Import{{Module: moduleWASI, Name: "memory", Kind: ImportWASI, Extern: "memory"}}},
			kind: KindInvalidModule, msg: "imports wasi_snapshot_preview1.memory as a memory; only functions are provided"},
		{name: "WASIEntrypointResults", abi: workflow.ABIWASICommand,
			info: ModuleInfo{Exports: []Export{{Name: "_start", Extern: "func", Results: []string{"i32"}}}},
			kind: KindInvalidModule, msg: `entrypoint "_start" is () -> (i32), want () -> ()`},
		{name: "MemoryOverRunLimit", abi: workflow.ABIExtism,
			info: ModuleInfo{Exports: run, Memory: &MemoryInfo{MinPages: 17}},
			kind: KindMemoryLimit, msg: "module declares 17 pages of memory, over the run's limit of 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			entry := (&workflow.Manifest{ABI: tc.abi}).EntrypointOrDefault()
			err := checkModule(&tc.info, tc.abi, entry, lim, funcs)
			ne, ok := errors.AsType[*NodeError](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, tc.kind, ne.Kind)
			require.Equal(t, tc.msg, ne.Message)
		})
	}
	// A run without results is a valid Extism entrypoint too; the memory fits.
	info := ModuleInfo{Exports: []Export{{Name: "run", Extern: "func"}}, Memory: &MemoryInfo{MinPages: 16}}
	require.NoError(t, checkModule(&info, workflow.ABIExtism, "run", lim, nil))
}

func TestLimits(t *testing.T) {
	t.Parallel()
	r := &Runtime{cfg: Config{MaxMemoryMB: 64, DefaultMemoryMB: 16, MaxTimeout: time.Minute, DefaultTimeout: 10 * time.Second,
		MaxOutputBytes: 1000, MaxLogBytes: 100}}
	for _, tc := range []struct {
		name         string
		module, node workflow.Limits
		want         runLimits
	}{
		{"Defaults", workflow.Limits{}, workflow.Limits{},
			runLimits{memoryMB: 16, timeout: 10 * time.Second, maxOutput: 1000, maxLog: 100}},
		{"Manifest", workflow.Limits{MemoryMB: 32, TimeoutMS: 500, MaxOutputBytes: 10, MaxLogBytes: 20}, workflow.Limits{},
			runLimits{memoryMB: 32, timeout: 500 * time.Millisecond, maxOutput: 10, maxLog: 20}},
		{"CappedByOperator", workflow.Limits{MemoryMB: 128, TimeoutMS: 3_600_000, MaxOutputBytes: 1 << 30, MaxLogBytes: 1 << 30}, workflow.Limits{},
			runLimits{memoryMB: 64, timeout: time.Minute, maxOutput: 1000, maxLog: 100}},
		{"NodeTightens", workflow.Limits{MemoryMB: 32, TimeoutMS: 500}, workflow.Limits{MemoryMB: 8, TimeoutMS: 100, MaxOutputBytes: 5, MaxLogBytes: 6},
			runLimits{memoryMB: 8, timeout: 100 * time.Millisecond, maxOutput: 5, maxLog: 6}},
		{"NodeCannotLoosen", workflow.Limits{MemoryMB: 32, TimeoutMS: 500}, workflow.Limits{MemoryMB: 64, TimeoutMS: 50_000},
			runLimits{memoryMB: 32, timeout: 500 * time.Millisecond, maxOutput: 1000, maxLog: 100}},
		{"NegativeIgnored", workflow.Limits{MemoryMB: -1, TimeoutMS: -1}, workflow.Limits{MemoryMB: -5},
			runLimits{memoryMB: 16, timeout: 10 * time.Second, maxOutput: 1000, maxLog: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, r.limits(tc.module, tc.node))
		})
	}
}

func TestDecodeOutput(t *testing.T) {
	t.Parallel()
	doc, err := DecodeOutput([]byte(`{"items":[{"a":1}]}`))
	require.NoError(t, err)
	require.Equal(t, &workflow.OutputDocument{Items: []workflow.Item{{"a": float64(1)}}}, doc)

	doc, err = DecodeOutput([]byte(` {"outputs":{"true":[{"a":1}],"false":[]}}`))
	require.NoError(t, err)
	require.Equal(t, &workflow.OutputDocument{Outputs: map[string][]workflow.Item{"true": {{"a": float64(1)}}, "false": {}}}, doc)

	for _, tc := range []struct{ out, msg string }{
		{``, "output is empty, want a JSON object"},
		{`[]`, "output is not a JSON object"},
		{`{"items":`, "output is not valid JSON"},
		{`{"items":{}}`, "output is not an output document: json: cannot unmarshal"},
		{`{"items":[],"outputs":{}}`, `output sets both "items" and "outputs"`},
	} {
		_, err := DecodeOutput([]byte(tc.out))
		ne, ok := errors.AsType[*NodeError](err)
		require.True(t, ok, "%q: %v", tc.out, err)
		require.Equal(t, KindInvalidOutput, ne.Kind)
		require.Contains(t, ne.Message, tc.msg)
	}
}

func TestNodeError(t *testing.T) {
	t.Parallel()
	inner := errors.New("inner")
	err := error(&NodeError{Kind: KindTrap, Message: "unreachable", Err: inner})
	require.Equal(t, "runtime: trap: unreachable", err.Error())
	require.ErrorIs(t, err, inner)
	require.Equal(t, KindTrap, KindOf(errors.Join(errors.New("x"), err)))
	require.Equal(t, ErrorKind(""), KindOf(inner))
	require.Equal(t, ErrorKind(""), KindOf(nil))

	ie := &instantiateError{inner}
	require.Equal(t, "inner", ie.Error())
	require.ErrorIs(t, ie, inner)

	require.Equal(t, "no error", firstLine(nil))
	require.Equal(t, "3 MiB", formatBytes(3<<20))
	require.Equal(t, "1000 bytes", formatBytes(1000))
	msg, ok := trapMessage("wasm error: integer divide by zero\nwasm stack trace:\n\t.$1()")
	require.True(t, ok)
	require.Equal(t, "integer divide by zero", msg)
	_, ok = trapMessage("module closed with exit_code(3)")
	require.False(t, ok)
}

func TestLogBuffer(t *testing.T) {
	t.Parallel()
	b := &logBuffer{max: 10}
	b.add("info", "héllo") // 6 bytes
	b.add("info", "wööö")  // 7 bytes: 4 fit, but the fourth would split an ö
	b.add("info", "more")
	lines, truncated := b.result()
	require.True(t, truncated)
	require.Len(t, lines, 2)
	require.Equal(t, "héllo", lines[0].Message)
	require.Equal(t, "wö", lines[1].Message)
	require.Zero(t, b.room())

	b = &logBuffer{max: 10}
	b.add("info", "0123456789")
	b.add("info", "x") // nothing fits: no empty line
	lines, truncated = b.result()
	require.True(t, truncated)
	require.Len(t, lines, 1)

	b = &logBuffer{max: 100}
	w := &streamLog{logs: b, level: LevelStderr}
	_, err := w.Write([]byte("a\nb\xff"))
	require.NoError(t, err)
	_, err = w.Write([]byte("c\n\nd"))
	require.NoError(t, err)
	w.flush()
	lines, truncated = b.result()
	require.False(t, truncated)
	require.Equal(t, []string{"a", "b\uFFFDc", "d"}, []string{lines[0].Message, lines[1].Message, lines[2].Message})
	require.Equal(t, "h", truncateUTF8("héllo", 2))
}

func TestMemoryLimiter(t *testing.T) {
	t.Parallel()
	l := &memoryLimiter{limit: 4 * pageSize}
	m := l.Allocate(0, 0)
	require.Empty(t, m.Reallocate(0), "a memory may start empty")
	buf := m.Reallocate(pageSize)
	require.Len(t, buf, pageSize)
	buf[10] = 7
	buf = m.Reallocate(3 * pageSize)
	require.Equal(t, byte(7), buf[10], "growing keeps the contents")
	require.Zero(t, buf[2*pageSize])
	require.False(t, l.refused())
	require.Nil(t, m.Reallocate(5*pageSize))
	require.True(t, l.refused())
	require.False(t, l.kernelRefused())
	require.Equal(t, uint64(3*pageSize), l.peak())

	// The initial allocation is never refused: Run checks the minimum first.
	big := l.Allocate(0, 0)
	require.Len(t, big.Reallocate(8*pageSize), 8*pageSize)
	require.Equal(t, uint64(11*pageSize), l.peak())
	big.Free()
	m.Free()
}

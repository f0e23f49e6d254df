package runtime_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/runtime"
)

func TestCacheHitDoesNotRecompile(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	for range 3 {
		_, err := r.Run(t.Context(), extismRun(t, "run", ""))
		require.NoError(t, err)
	}
	_, err := r.Inspect(t.Context(), fixture(t, "extism_guest.wasm"))
	require.NoError(t, err)
	require.Equal(t, runtime.CacheStats{Hits: 3, Misses: 1, Entries: 1}, r.Stats())

	// The digest given by the caller keys the cache just the same.
	p := extismRun(t, "run", "")
	info, err := r.Inspect(t.Context(), p.Wasm)
	require.NoError(t, err)
	p.Digest = info.Digest
	_, err = r.Run(t.Context(), p)
	require.NoError(t, err)
	require.Equal(t, runtime.CacheStats{Hits: 5, Misses: 1, Entries: 1}, r.Stats())
}

func TestCacheConcurrentMissesCompileOnce(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			p := wasiRun(t, "", "{}")
			if i%2 == 0 {
				p = extismRun(t, "run", "")
			}
			_, err := r.Run(t.Context(), p)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, runtime.CacheStats{Hits: 6, Misses: 2, Entries: 2}, r.Stats())
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{CacheEntries: 2})
	run := func(p *runtime.RunParams) {
		t.Helper()
		_, err := r.Run(t.Context(), p)
		require.NoError(t, err)
	}
	hostfunc := extismRun(t, "run", "x")
	hostfunc.Wasm = fixture(t, "extism_hostfunc.wasm")
	hostfunc.Manifest.IO = "raw"
	hostfunc.HostFuncs = secretFuncs()

	run(extismRun(t, "run", "")) // miss
	run(wasiRun(t, "", "{}"))    // miss
	run(extismRun(t, "run", "")) // hit: guest is now the most recent
	run(hostfunc)                // miss: evicts cat
	run(extismRun(t, "run", "")) // hit
	run(wasiRun(t, "", "{}"))    // miss: evicts hostfunc
	require.Equal(t, runtime.CacheStats{Hits: 2, Misses: 4, Evictions: 2, Entries: 2}, r.Stats())
}

func TestCacheFailedCompileIsNotKept(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	for range 2 {
		_, err := r.Inspect(t.Context(), []byte("garbage"))
		requireKind(t, err, runtime.KindInvalidModule)
	}
	require.Equal(t, runtime.CacheStats{Misses: 2}, r.Stats())
}

func TestDiskCacheSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runOnce := func() {
		r, err := runtime.New(t.Context(), runtime.Config{CacheDir: dir})
		require.NoError(t, err)
		defer func() { require.NoError(t, r.Close(t.Context())) }()
		_, err = r.Run(t.Context(), extismRun(t, "run", ""))
		require.NoError(t, err)
		_, err = r.Run(t.Context(), wasiRun(t, "", "{}"))
		require.NoError(t, err)
		require.Equal(t, uint64(2), r.Stats().Misses, "a new process starts with an empty memory cache")
	}
	runOnce()
	before := cacheFiles(t, dir)
	// The guest, the cat and Extism's kernel.
	require.Len(t, before, 3)

	runOnce()
	after := cacheFiles(t, dir)
	require.Len(t, after, len(before))
	for name, fi := range before {
		require.Contains(t, after, name)
		require.True(t, os.SameFile(fi, after[name]), "%s was loaded, not compiled and written again", name)
	}
}

func cacheFiles(t *testing.T, dir string) map[string]fs.FileInfo {
	t.Helper()
	files := map[string]fs.FileInfo{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		files[path] = fi
		return err
	})
	require.NoError(t, err)
	return files
}

func TestDigestMismatchIsNotCached(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	guest, cat := fixture(t, "extism_guest.wasm"), fixture(t, "wasi_cat.wasm")

	// A miss checks the digest before compiling under it.
	p := extismRun(t, "run", "")
	p.Digest = digest(cat)
	_, err := r.Run(t.Context(), p)
	require.ErrorContains(t, err, "does not match the module's bytes")
	require.Zero(t, r.Stats().Entries)

	// A hit compiles for Extism on first use: the bytes are checked then too.
	_, err = r.Inspect(t.Context(), guest)
	require.NoError(t, err)
	p = extismRun(t, "run", "")
	p.Wasm, p.Digest = cat, digest(guest)
	_, err = r.Run(t.Context(), p)
	require.ErrorContains(t, err, "does not match the module's bytes")

	p = extismRun(t, "run", "")
	p.Digest = digest(guest)
	res, err := r.Run(t.Context(), p)
	require.NoError(t, err, "the entry was not spoiled")
	require.JSONEq(t, `{"items":[{"ok":true}]}`, string(res.Output))
}

// Runtimes with disk caches can start at once (wazero's version lookup
// behind the disk cache is not synchronised; -race catches it otherwise).
func TestConcurrentDiskCaches(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			r, err := runtime.New(t.Context(), runtime.Config{CacheDir: t.TempDir()})
			require.NoError(t, err)
			require.NoError(t, r.Close(t.Context()))
		})
	}
	wg.Wait()
}

package runtime

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
)

// CacheStats counts lookups of the in-memory module cache. A miss compiles
// the module, from wazero's disk cache when Config.CacheDir holds it.
type CacheStats struct {
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Evictions uint64 `json:"evictions"`
	// Entries is how many modules the cache holds now.
	Entries int `json:"entries"`
}

// module is one compiled module, shared by every run of its digest.
// Fields other than refs and plugin are written once, before ready is closed.
type module struct {
	digest string
	ready  chan struct{}
	err    error
	info   *ModuleInfo
	// compiled is the module in the runtime's own wazero runtime: it validated
	// the module and runs it as a WASI command.
	compiled wazero.CompiledModule

	// plugin is the module compiled for Extism, built by the first Extism run.
	pluginMu  sync.Mutex
	plugin    *extism.CompiledPlugin
	pluginErr error

	refs int // guarded by moduleCache.mu; the cache holds one while listed
}

// close frees the compiled code. Called once, when the last reference goes.
func (m *module) close(ctx context.Context) {
	if m.plugin != nil {
		_ = m.plugin.Close(ctx) // closing never fails for an idle runtime
	}
	if m.compiled != nil {
		_ = m.compiled.Close(ctx)
	}
}

// moduleCache is a bounded LRU of compiled modules by digest. Entries are
// reference-counted, so an evicted module stays usable by the runs that hold
// it and is closed when the last one releases it. Concurrent lookups of a
// digest being compiled wait for that one compile.
type moduleCache struct {
	max int

	mu      sync.Mutex
	order   *list.List // of *module, most recently used first
	entries map[string]*list.Element
	stats   CacheStats
}

func newModuleCache(max int) *moduleCache {
	return &moduleCache{max: max, order: list.New(), entries: make(map[string]*list.Element)}
}

// acquire returns the module of digest, compiling it with build on a miss,
// with a reference the caller must release. Failed compiles are not kept.
func (c *moduleCache) acquire(ctx context.Context, digest string, build func(m *module) error) (*module, error) {
	c.mu.Lock()
	if el, ok := c.entries[digest]; ok {
		m := el.Value.(*module)
		c.order.MoveToFront(el)
		m.refs++
		c.stats.Hits++
		c.mu.Unlock()
		select {
		case <-m.ready:
		case <-ctx.Done():
			c.release(ctx, m)
			return nil, ctx.Err()
		}
		if m.err != nil {
			c.release(ctx, m)
			return nil, m.err
		}
		return m, nil
	}
	m := &module{digest: digest, ready: make(chan struct{}), refs: 2}
	c.entries[digest] = c.order.PushFront(m)
	c.stats.Misses++
	var evicted []*module
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(*module)
		delete(c.entries, old.digest)
		c.stats.Evictions++
		evicted = append(evicted, old)
	}
	c.mu.Unlock()
	for _, old := range evicted {
		c.release(ctx, old)
	}

	m.err = buildSafely(build, m)
	close(m.ready)
	if m.err != nil {
		c.mu.Lock()
		if el, ok := c.entries[digest]; ok && el.Value == m {
			c.order.Remove(el)
			delete(c.entries, digest)
			m.refs--
		}
		c.mu.Unlock()
		c.release(ctx, m)
		return nil, m.err
	}
	return m, nil
}

// buildSafely runs build, turning a panic into an invalid-module error:
// wazero v1.12.0 panics on some invalid modules (a call whose type index is
// out of range) where it should fail, and the entry being built must still
// be finished, or every later lookup of the digest would wait on it.
func buildSafely(build func(m *module) error, m *module) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = nodeErr(KindInvalidModule, fmt.Errorf("compiler panic: %v", p), "compile: the compiler failed on this module")
		}
	}()
	return build(m)
}

// release drops a reference; the last one closes the module.
func (c *moduleCache) release(ctx context.Context, m *module) {
	c.mu.Lock()
	m.refs--
	last := m.refs == 0
	c.mu.Unlock()
	if last {
		m.close(context.WithoutCancel(ctx))
	}
}

// clear drops the cache's references to every module.
func (c *moduleCache) clear(ctx context.Context) {
	c.mu.Lock()
	var all []*module
	for el := c.order.Front(); el != nil; el = el.Next() {
		all = append(all, el.Value.(*module))
	}
	c.order.Init()
	clear(c.entries)
	c.mu.Unlock()
	for _, m := range all {
		c.release(ctx, m)
	}
}

func (c *moduleCache) snapshot() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = c.order.Len()
	return s
}

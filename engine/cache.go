package engine

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// lru is a small bounded map that forgets the least recently used entry.
type lru[K comparable, V any] struct {
	mu      sync.Mutex
	max     int
	order   *list.List // of K, most recent first
	entries map[K]lruEntry[V]
}

type lruEntry[V any] struct {
	value V
	el    *list.Element
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, order: list.New(), entries: make(map[K]lruEntry[V])}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	en, ok := c.entries[k]
	if ok {
		c.order.MoveToFront(en.el)
	}
	return en.value, ok
}

func (c *lru[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if en, ok := c.entries[k]; ok {
		c.order.MoveToFront(en.el)
		c.entries[k] = lruEntry[V]{value: v, el: en.el}
		return
	}
	c.entries[k] = lruEntry[V]{value: v, el: c.order.PushFront(k)}
	for c.order.Len() > c.max {
		delete(c.entries, c.order.Remove(c.order.Back()).(K))
	}
}

// plan is a workflow version ready to run: immutable, so cached.
type plan struct {
	def    *workflow.Workflow
	graph  *graph
	params map[string]*workflow.CompiledParams // by node name; nil entry when the params do not compile
	errs   map[string]error                    // params that do not compile, by node name
}

type versionKey struct {
	tenant, workflow string
	version          int
}

type versionCache struct{ *lru[versionKey, *plan] }

func newVersionCache(max int) *versionCache { return &versionCache{newLRU[versionKey, *plan](max)} }

// plan returns the plan of a workflow version, reading it on a miss.
func (e *Engine) plan(ctx context.Context, tenantID, workflowID string, version int) (*plan, error) {
	key := versionKey{tenantID, workflowID, version}
	if p, ok := e.versions.get(key); ok {
		return p, nil
	}
	v, err := e.store.WorkflowVersionGet(ctx, tenantID, workflowID, version)
	if err != nil {
		return nil, fmt.Errorf("workflow %s version %d: %w", workflowID, version, err)
	}
	def := v.Definition
	p := &plan{def: &def, graph: newGraph(&def), params: map[string]*workflow.CompiledParams{}, errs: map[string]error{}}
	for _, n := range def.Nodes {
		c, err := workflow.CompileParams(n.Params)
		if err != nil {
			p.errs[n.Name] = err
			continue
		}
		p.params[n.Name] = c
	}
	e.versions.put(key, p)
	return p, nil
}

type moduleKey struct {
	tenant, name, version string
}

// moduleCache keeps loaded module versions (record, manifest, bytes): a
// version is immutable, and loading one reads and hashes its bytes.
type moduleCache struct {
	src Modules
	*lru[moduleKey, *registry.Module]
}

func newModuleCache(src Modules, max int) *moduleCache {
	return &moduleCache{src: src, lru: newLRU[moduleKey, *registry.Module](max)}
}

// Authorize passes through to the source: a verdict can change between
// runs of one version (a key revoked, a version yanked), and the source
// keeps its own cache of verdicts.
func (c *moduleCache) Authorize(ctx context.Context, tenantID string, v *store.ModuleVersion) (workflow.Capabilities, error) {
	return c.src.Authorize(ctx, tenantID, v)
}

// HostSession passes through to the source: a session is per run.
func (c *moduleCache) HostSession(ctx context.Context, g registry.RunGrant) *registry.HostSession {
	return c.src.HostSession(ctx, g)
}

func (c *moduleCache) load(ctx context.Context, tenantID, name, version string) (*registry.Module, error) {
	key := moduleKey{tenantID, name, version}
	if m, ok := c.get(key); ok {
		return m, nil
	}
	m, err := c.src.Load(ctx, tenantID, name, version)
	if err != nil {
		return nil, err
	}
	c.put(key, m)
	return m, nil
}

// runningSet holds the cancel functions of the runs in progress in this
// process, by execution, so that Cancel stops them at once.
type runningSet struct {
	mu   sync.Mutex
	byEx map[string]map[string]context.CancelCauseFunc // execution → run → cancel
}

func newRunningSet() *runningSet {
	return &runningSet{byEx: map[string]map[string]context.CancelCauseFunc{}}
}

func (s *runningSet) add(executionID, runID string, cancel context.CancelCauseFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byEx[executionID] == nil {
		s.byEx[executionID] = map[string]context.CancelCauseFunc{}
	}
	s.byEx[executionID][runID] = cancel
}

func (s *runningSet) remove(executionID, runID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byEx[executionID], runID)
	if len(s.byEx[executionID]) == 0 {
		delete(s.byEx, executionID)
	}
}

// errExecutionCancelled is the cause of a run stopped because its execution
// was cancelled.
var errExecutionCancelled = fmt.Errorf("the execution was cancelled")

func (s *runningSet) cancelExecution(executionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cancel := range s.byEx[executionID] {
		cancel(errExecutionCancelled)
	}
}

package runtime

import (
	"sync"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// pageSize is the size of a Wasm memory page.
const pageSize = 65536

// memoryLimiter is the experimental.MemoryAllocator of one run: it backs every
// linear memory the run instantiates (the guest's and, for Extism, the
// kernel's) with a plain Go slice and refuses to grow any of them past limit
// bytes. memory.grow then returns -1 to the guest, as wazero's own
// WithMemoryLimitPages would, but the runtime learns of it and reports the
// failure that follows as KindMemoryLimit instead of a bare trap.
//
// The limit is per run, so one compiled module serves runs with different
// limits. The initial allocation (the declared minimum) is never refused:
// wazero cannot take a refusal there, so Run checks the minimum beforehand.
type memoryLimiter struct {
	limit uint64

	mu       sync.Mutex
	memories []*linearMemory
}

var _ experimental.MemoryAllocator = (*memoryLimiter)(nil)

// Allocate implements experimental.MemoryAllocator.
func (l *memoryLimiter) Allocate(_, _ uint64) experimental.LinearMemory {
	m := &linearMemory{limiter: l}
	l.mu.Lock()
	l.memories = append(l.memories, m)
	l.mu.Unlock()
	return m
}

// markKernel records which memory is the Extism kernel's (it holds the
// input, output and every handle), found by its backing array.
func (l *memoryLimiter) markKernel(mem api.Memory) {
	view, ok := mem.Read(0, 1)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.memories {
		if len(m.buf) > 0 && &m.buf[0] == &view[0] {
			m.kernel = true
		}
	}
}

// refused reports whether a grow of any memory was refused.
func (l *memoryLimiter) refused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.memories {
		if m.refused {
			return true
		}
	}
	return false
}

// kernelRefused reports whether a grow of the Extism kernel's memory was
// refused: some input, output or handle was then lost.
func (l *memoryLimiter) kernelRefused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.memories {
		if m.kernel && m.refused {
			return true
		}
	}
	return false
}

// peak returns the largest size each memory reached, summed.
func (l *memoryLimiter) peak() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var sum uint64
	for _, m := range l.memories {
		sum += m.peak
	}
	return sum
}

// linearMemory is one memory of a run. Reallocate runs on the guest's
// goroutine; the limiter's lock guards it against readers of the statistics.
type linearMemory struct {
	limiter *memoryLimiter
	buf     []byte
	peak    uint64
	started bool // the initial allocation happened
	refused bool
	kernel  bool
}

// Reallocate implements experimental.LinearMemory. Memory never shrinks, so
// the bytes past len(buf) were never handed out and are still zero.
func (m *linearMemory) Reallocate(size uint64) []byte {
	l := m.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	if size > l.limit && m.started {
		m.refused = true
		return nil
	}
	m.started = true
	if size > uint64(cap(m.buf)) {
		capacity := max(size, min(2*uint64(cap(m.buf)), l.limit))
		grown := make([]byte, size, capacity)
		copy(grown, m.buf)
		m.buf = grown
	}
	m.buf = m.buf[:size]
	m.peak = max(m.peak, size)
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *linearMemory) Free() {
	m.limiter.mu.Lock()
	m.buf = nil
	m.limiter.mu.Unlock()
}

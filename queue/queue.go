package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// ErrClosed is returned by every method of a [Queue] after Close.
var ErrClosed = errors.New("queue: closed")

// ErrFull is returned by Enqueue when a backend holds as many waiting tasks as
// it may. Nothing was enqueued; the caller keeps the work (the engine's
// outbox row stays, and its reconciler enqueues it again later), so a flood
// costs latency, never memory without bound.
var ErrFull = errors.New("queue: full")

// Task is one unit of work: in wasmflow, one attempt of one node run.
type Task struct {
	// ID identifies the task and is the deduplication key: the engine uses
	// "execution:node:attempt". Required.
	ID string
	// Kind names what the task does (e.g. "node_run"), so that one handler
	// can dispatch on it. Required.
	Kind string
	// TenantID is the tenant the work belongs to, delivered as given.
	TenantID string
	// Payload is opaque to the queue and delivered byte for byte (any bytes,
	// NUL included). Enqueue copies it; a handler receives nil or empty for an
	// empty payload.
	Payload []byte
	// ProcessAt delays delivery until then; the zero time (or a time in the
	// past) means now. It is a lower bound: delivery is never earlier, and
	// usually within milliseconds after (each backend documents its
	// precision). It is not delivered: a handler's Task has the zero time.
	ProcessAt time.Time
}

// Validate reports whether t can be enqueued: it must be non-nil and have an
// ID and a Kind, and ID, Kind and TenantID must be valid UTF-8 (Asynq
// stores them as protobuf strings).
func (t *Task) Validate() error {
	switch {
	case t == nil:
		return errors.New("queue: nil task")
	case t.ID == "":
		return errors.New("queue: task has no id")
	case t.Kind == "":
		return fmt.Errorf("queue: task %q has no kind", t.ID)
	case !utf8.ValidString(t.ID) || !utf8.ValidString(t.Kind) || !utf8.ValidString(t.TenantID):
		return fmt.Errorf("queue: task %q: id, kind and tenant id must be valid UTF-8", t.ID)
	}
	return nil
}

// Handler processes one delivered task. It must be idempotent (delivery is
// at least once) and must return soon after ctx is cancelled.
//
// A returned error is logged by the backend and the task is dropped, not
// retried: retries are the engine's job. A panic is recovered, logged with
// its stack, and treated the same way.
//
// ctx carries the values of the context given to [Queue.Run] but not its
// cancellation: it is cancelled when Run's shutdown timeout passes (or when
// a backend's own per-task limit does: Asynq's is 30 minutes), so that the
// node run can be handed back.
type Handler func(ctx context.Context, t *Task) error

// Queue delivers tasks to a handler. Only the backends in this module
// implement it (queue/inproc, queue/asynqueue). Every method is safe for
// concurrent use.
type Queue interface {
	// Enqueue adds t, to be delivered now or at t.ProcessAt. It never blocks
	// for long: it returns an error rather than wait for room (ErrFull), and
	// honours ctx for any I/O.
	//
	// A task whose ID is already waiting or running is a duplicate: Enqueue
	// returns nil and adds nothing, even if the other fields differ (the
	// first one wins). An ID whose earlier task has finished is enqueued
	// anew and delivered again.
	//
	// It returns an error for an invalid task ([Task.Validate]), ctx's error
	// when ctx is already done, ErrFull when the backend is at its limit,
	// and ErrClosed after Close.
	Enqueue(ctx context.Context, t *Task) error

	// Run delivers tasks to h, concurrently up to the backend's concurrency
	// (Workers, Concurrency), until ctx is done. Then it stops taking
	// tasks, waits for the running handlers up to the backend's shutdown
	// timeout, cancels the contexts of those still running, and returns once
	// every handler has returned. It returns nil after a shutdown triggered
	// by ctx or by Close.
	//
	// Run may be called once per Queue; a second call returns an error, and
	// a call after Close returns ErrClosed. Tasks may be enqueued before Run
	// starts; they wait.
	Run(ctx context.Context, h Handler) error

	// Depth reports how many tasks are waiting to be handed to a handler,
	// delayed ones included and running ones not, for metrics. With several
	// processes on one Redis queue it counts the whole queue.
	Depth(ctx context.Context) (int, error)

	// Ping reports whether the backend can take work (for /readyz): nil
	// when it can, ErrClosed after Close, and for Redis an error when it
	// does not answer before ctx is done.
	Ping(ctx context.Context) error

	// Close stops the queue: Enqueue, Run, Depth and Ping return ErrClosed
	// from then on. A Run in progress is shut down as if its context were
	// done, and Close waits for it to return. What happens to tasks still
	// waiting is documented by each backend (the store keeps the work
	// either way). Close is idempotent and returns nil after the first call.
	Close() error
}

// Package queue is the seam between the engine and whatever delivers node
// runs to workers: one [Task] per node run of an execution, handed to a
// [Handler] by a [Queue]. Two backends implement it, and both pass the one
// conformance suite in queue/queuetest:
//
//   - queue/inproc: the embedded mode's bounded worker pool, in memory;
//   - queue/asynqueue: Asynq on Redis, for the distributed mode.
//
// Only cmd/wasmflow picks a backend; the engine sees this interface alone.
//
// # The queue only delivers
//
// The store (SQLite or PostgreSQL) is the source of truth for every node run;
// the queue is a delivery mechanism that may lose, repeat or delay work, and
// the engine is built so that none of that matters:
//
//   - The engine writes a node run and an outbox row in one transaction, then
//     enqueues. A crash between the two leaves the outbox row, and the
//     engine's reconciler enqueues it again.
//   - A worker claims a run with a conditional update before running it, so a
//     second delivery of the same task finds the run claimed or finished and
//     does nothing.
//   - A worker that dies mid-run leaves a run whose lease expires; the
//     reconciler enqueues it again (the same task id), without waiting for a
//     backend's own recovery (Asynq's takes 60–120 s).
//
// # Delivery guarantees
//
// Delivery is at least once: a task accepted by [Queue.Enqueue] is handed to
// a handler once in normal operation, but may be handed over again (a
// worker's shutdown deadline passed, a crash, a duplicate enqueue after the
// first delivery finished), or not at all if the process or Redis loses it
// before delivery; in that last case the reconciler enqueues it again.
// Handlers must therefore be idempotent. Delivery order is not guaranteed.
//
// Deduplication is by [Task.ID] ("execution:node:attempt"), and only while a
// task with that id is waiting (queued or delayed) or running: an Enqueue of
// such an id returns nil and adds nothing, whatever its other fields. Once a
// task's handler has returned, its id is forgotten, and enqueueing the same
// id again delivers it again; the engine's claim turns that delivery into a
// no-op, which is exactly what the reconciler needs when it cannot know
// whether an earlier enqueue was processed.
//
// # Why the engine, not the queue, retries
//
// A handler's error is logged by the backend and the task is dropped: the
// queue never retries it (Asynq runs with MaxRetry 0). Each retry of a node
// is a new attempt with a new task id, a backoff (via [Task.ProcessAt]) and a
// row the API shows, so the retry policy, the attempt count and the backoff
// live in one place, the engine, and are the same in both modes. A queue that
// also retried would run attempts the store never recorded.
//
// # Shutdown
//
// [Queue.Run] processes tasks until its context is done, then stops taking
// tasks and waits for the running handlers for the backend's shutdown
// timeout. When that passes, the handlers' contexts are cancelled, so that a
// node run stops and is handed back: its lease lapses and the reconciler
// enqueues it again (Asynq also pushes the task back to Redis itself).
package queue

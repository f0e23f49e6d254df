// Package engine runs executions: it plans a workflow version into node runs,
// dispatches each node run as its own queue task, runs it (a core node on
// the host, a module node in the sandbox), and stores its outcome together
// with everything it causes, in one transaction.
//
// # Execution model
//
// The store is the source of truth; the queue only carries wake-ups.
//
//  1. Start inserts the execution and one node run per node (pending, with a
//     counter of unfinished parents); the roots are queued and written to the
//     outbox in the same transaction. After the commit each queued run is
//     enqueued as a task whose id is "execution:node:attempt".
//  2. A worker claims the run with a conditional update (queued → running,
//     with a lease and a claim token). A redelivered task finds the run
//     claimed or finished and does nothing. The claim removes the run's
//     outbox entry in its transaction: a queued run always has one.
//  3. The worker builds the node's input from its parents' outputs, runs the
//     node while extending the lease, and finishes the run: output, logs and
//     error stored, children's counters decremented, children that reach
//     zero queued with outbox entries, all in one transaction that holds
//     only if the claim still does. Then it enqueues the children. A run
//     that the worker's shutdown cuts off (the queue cancels its handler
//     after its shutdown timeout) is handed back instead: queued again at
//     once with an outbox entry, its claim and lease cleared, if the claim
//     still holds it, for another worker (or this one after a restart) to
//     run from the start.
//  4. A failed run is retried per the node's policy (each attempt a run of
//     its own, after a doubling backoff); once out of attempts it fails the
//     execution (cancelling what remains) or, with on_error: continue, its
//     error becomes its output item and the execution goes on.
//  5. The reconciler enqueues again, under their own task ids and with a
//     growing interval, outbox entries that stayed (a crash between commit
//     and enqueue, a queue that lost its data, or only a busy queue, whose
//     waiting task absorbs the offer), queues again runs
//     whose lease expired (a worker that died, or that could not hand its
//     runs back when it shut down), fails executions past their deadline
//     and prunes old finished executions.
//
// # Raw-IO modules
//
// A module whose manifest says "io": "raw" (any Extism plugin, unmodified)
// is called once per input item, in order, on one instance per node run
// unless the manifest says "instance": "per_item". The param input,
// evaluated per item (default: the item), is what it receives; its reply is
// stored in the item under the param output_field (default "result"). An
// item that fails fails the run, its error naming the item; with on_error:
// continue, once no retry is left, the item carries the error instead and
// the others go on. Limits hold for the node run as a whole.
//
// A node runs when every parent has finished or been skipped; a node whose
// inputs are all empty is skipped, so an IF's untaken branch is skipped and
// so is everything below it that nothing else feeds.
package engine

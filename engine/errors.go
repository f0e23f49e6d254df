package engine

// Error is a request the engine refuses, with a stable code the API maps to
// a status.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "engine: " + e.Message }

// Error codes.
const (
	// CodeNoTrigger: the workflow has no trigger node of the requested kind.
	CodeNoTrigger = "no_trigger"
	// CodeInvalidInput: the input items cannot be stored.
	CodeInvalidInput = "invalid_input"
	// CodeFinished: the execution has finished; it cannot be cancelled.
	CodeFinished = "execution_finished"
	// CodeNotRetryable: only a failed or cancelled execution can be retried.
	CodeNotRetryable = "execution_not_retryable"
	// CodeTooManyWaiting: the tenant's executions use every slot and as many
	// wait for one as Config.MaxWaitingExecutions allows.
	CodeTooManyWaiting = "too_many_waiting_executions"
)

// RunError is what a failed node run stores as its error.
type RunError struct {
	// Kind is the runtime's error kind ("timeout", "trap", …) or the
	// engine's ("expression", "module_unavailable", "canceled", "internal").
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// Expression is the failing {{ expression }}, for kind "expression".
	Expression string `json:"expression,omitempty"`
	// Item is the index (from 0) of the input item whose call failed, for a
	// raw-IO module node.
	Item *int `json:"item,omitempty"`
	// RetryAt is when the next attempt runs, when the run is retried.
	RetryAt string `json:"retry_at,omitempty"`
}

// Engine error kinds, beside the runtime's.
const (
	KindExpression        = "expression"
	KindModuleUnavailable = "module_unavailable"
	KindInvalidParams     = "invalid_params"
	KindCanceled          = "canceled"
	KindExecutionTimeout  = "execution_timeout"
	KindInternal          = "internal"
)

package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/sys"
)

// ErrorKind says why a node run failed. The values are stable: the API
// shows them as the node run's error kind.
type ErrorKind string

// The kinds of [NodeError].
const (
	// KindTimeout: the run reached its deadline, the smaller of the caller's
	// context deadline and the run's time limit.
	KindTimeout ErrorKind = "timeout"
	// KindCanceled: the caller's context was canceled before the run ended.
	KindCanceled ErrorKind = "canceled"
	// KindMemoryLimit: the module declares more memory than the run may have,
	// or the guest failed after the runtime refused to grow a memory past the
	// run's limit.
	KindMemoryLimit ErrorKind = "memory_limit"
	// KindTrap: the guest trapped (unreachable, out-of-bounds access, ...);
	// the message is the trap's.
	KindTrap ErrorKind = "trap"
	// KindGuestError: the guest reported a failure: an Extism error_set or a
	// non-zero return code, or a WASI command's non-zero exit code.
	KindGuestError ErrorKind = "guest_error"
	// KindHostError: a host function returned an error, which fails the run.
	KindHostError ErrorKind = "host_error"
	// KindInvalidOutput: the output is empty or, for document IO, not a JSON object.
	KindInvalidOutput ErrorKind = "invalid_output"
	// KindOutputTooLarge: the guest produced more output than the run allows.
	KindOutputTooLarge ErrorKind = "output_too_large"
	// KindInputTooLarge: the input cannot fit in the memory the run allows.
	KindInputTooLarge ErrorKind = "input_too_large"
	// KindMissingExport: the module does not export the manifest's entrypoint.
	KindMissingExport ErrorKind = "missing_export"
	// KindCapabilityNotGranted: the module imports a host function the run was
	// not given, or called Extism's built-in http_request, which is never allowed.
	KindCapabilityNotGranted ErrorKind = "capability_not_granted"
	// KindSecretNotGranted: the guest asked wasmflow_secret_get for a secret
	// the run may not read (not declared, not bound, or missing).
	KindSecretNotGranted ErrorKind = "secret_not_granted"
	// KindInvalidModule: the bytes are not a valid module, or the module does
	// not fit its ABI (imports nothing provides, an entrypoint of the wrong type).
	KindInvalidModule ErrorKind = "invalid_module"
)

// NodeError is why a module failed to load or run. Err, when set, is the
// underlying error; a timed-out run satisfies errors.Is(err,
// context.DeadlineExceeded), a canceled one errors.Is(err, context.Canceled),
// and a host function's error stays reachable with errors.As.
type NodeError struct {
	Kind ErrorKind
	// Message is a one-line, human-readable reason, safe to show to the
	// workflow's owner (it holds nothing but what the guest and its manifest said).
	Message string
	// ExitCode is the WASI exit code or Extism return code for KindGuestError.
	ExitCode uint32
	Err      error
}

// Error implements error.
func (e *NodeError) Error() string {
	return "runtime: " + string(e.Kind) + ": " + e.Message
}

// Unwrap returns the underlying error.
func (e *NodeError) Unwrap() error { return e.Err }

// KindOf returns the kind of the first [NodeError] in err's chain, or "" when
// there is none.
func KindOf(err error) ErrorKind {
	if ne, ok := errors.AsType[*NodeError](err); ok {
		return ne.Kind
	}
	return ""
}

func nodeErr(kind ErrorKind, err error, format string, args ...any) *NodeError {
	return &NodeError{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// guestFailure is a failure the guest reported itself.
type guestFailure struct {
	message string
	code    uint32
}

func (g *guestFailure) Error() string { return g.message }

// instantiateError marks an error from instantiating (linking, start section).
type instantiateError struct{ err error }

func (e *instantiateError) Error() string { return e.err.Error() }
func (e *instantiateError) Unwrap() error { return e.err }

// classify turns the error of a guest call into a *NodeError. parent is the
// caller's context, ctx the run's (with the run's deadline).
func (st *run) classify(parent, ctx context.Context, err error) *NodeError {
	switch {
	case errors.Is(parent.Err(), context.Canceled):
		return nodeErr(KindCanceled, context.Canceled, "run canceled after %s", st.elapsed())
	case ctx.Err() != nil:
		return nodeErr(KindTimeout, context.DeadlineExceeded,
			"run exceeded its deadline after %s (time limit %s)", st.elapsed(), st.limits.timeout)
	}
	if hostErr := st.hostFailure(); hostErr != nil {
		return hostErr
	}
	if ne, ok := errors.AsType[*NodeError](err); ok {
		return ne // decided already: an input too large, a plugin that would not compile
	}
	if st.output.overflow {
		return nodeErr(KindOutputTooLarge, err, "output exceeds the limit of %d bytes", st.limits.maxOutput)
	}
	if st.mem.refused() {
		return nodeErr(KindMemoryLimit, err, "memory limit of %s reached: %s", formatBytes(st.limits.memoryBytes()), firstLine(err))
	}
	if g, ok := errors.AsType[*guestFailure](err); ok {
		return &NodeError{Kind: KindGuestError, Message: g.message, ExitCode: g.code, Err: err}
	}
	if exit, ok := errors.AsType[*sys.ExitError](err); ok && exit.ExitCode() != 0 {
		return &NodeError{Kind: KindGuestError, Message: fmt.Sprintf("exited with code %d", exit.ExitCode()),
			ExitCode: exit.ExitCode(), Err: err}
	}
	msg := err.Error()
	// Extism's built-in http_request checks only host names and follows
	// redirects anywhere: the runtime leaves its allow-list empty, so a call
	// panics inside it and the stack trace names it.
	if strings.Contains(msg, "extism:host/env.http_request(") {
		return nodeErr(KindCapabilityNotGranted, err, "%s", httpRequestRefused)
	}
	if trap, ok := trapMessage(msg); ok {
		return nodeErr(KindTrap, err, "%s", trap)
	}
	if _, ok := errors.AsType[*instantiateError](err); ok {
		return nodeErr(KindInvalidModule, err, "instantiate: %s", firstLine(err))
	}
	return nodeErr(KindTrap, err, "%s", firstLine(err))
}

// httpRequestRefused is the message of a run that called Extism's built-in
// http_request: a plugin written for plain Extism hosts reaches here first.
const httpRequestRefused = "extism:host/env.http_request (Extism's built-in HTTP client) is refused by wasmflow: " +
	`modules make HTTP requests through the wasmflow_http_fetch host function, with the "http" capability declared in the manifest and granted`

// trapMessage extracts the trap from a wazero error ("wasm error: unreachable\nwasm stack trace: ...").
func trapMessage(msg string) (string, bool) {
	_, after, ok := strings.Cut(msg, "wasm error: ")
	if !ok {
		return "", false
	}
	line, _, _ := strings.Cut(after, "\n")
	return line, true
}

func firstLine(err error) string {
	if err == nil {
		return "no error"
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

func formatBytes(n uint64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

//go:build wasip1

package wasmflow

import "fmt"

// Log levels of Extism's log_* functions. The host captures each line with the
// node run (size-capped).
type Level int

const (
	LevelTrace Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

// LogTrace, LogDebug, LogInfo, LogWarn and LogError log one message; each imports
// only its own log_* function.
func LogTrace(msg string) {
	off := allocBytes([]byte(msg))
	extismLogTrace(off)
	extismFree(off)
}

func LogDebug(msg string) {
	off := allocBytes([]byte(msg))
	extismLogDebug(off)
	extismFree(off)
}

func LogInfo(msg string) {
	off := allocBytes([]byte(msg))
	extismLogInfo(off)
	extismFree(off)
}

func LogWarn(msg string) {
	off := allocBytes([]byte(msg))
	extismLogWarn(off)
	extismFree(off)
}

func LogError(msg string) {
	off := allocBytes([]byte(msg))
	extismLogError(off)
	extismFree(off)
}

// Log logs msg at level (this imports every log_* function).
func Log(level Level, msg string) {
	switch level {
	case LevelTrace:
		LogTrace(msg)
	case LevelDebug:
		LogDebug(msg)
	case LevelWarn:
		LogWarn(msg)
	case LevelError:
		LogError(msg)
	default:
		LogInfo(msg)
	}
}

// Logf formats and logs a message at level.
func Logf(level Level, format string, args ...any) { Log(level, fmt.Sprintf(format, args...)) }

package asynqueue

import (
	"context"
	"fmt"
	"log/slog"
)

// slogAdapter is asynq's printf-style Logger on top of a *slog.Logger.
// Asynq formats its own messages (Infof and the like reach here as one
// string), so each call becomes one record with the asynq component.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) emit(level slog.Level, args []any) {
	ctx := context.Background()
	if !a.log.Enabled(ctx, level) {
		return
	}
	a.log.LogAttrs(ctx, level, fmt.Sprint(args...), slog.String("component", "asynq"))
}

func (a slogAdapter) Debug(args ...any) { a.emit(slog.LevelDebug, args) }
func (a slogAdapter) Info(args ...any)  { a.emit(slog.LevelInfo, args) }
func (a slogAdapter) Warn(args ...any)  { a.emit(slog.LevelWarn, args) }
func (a slogAdapter) Error(args ...any) { a.emit(slog.LevelError, args) }

// Fatal logs at error level; asynq itself exits the process after calling
// it (it never does in v0.26).
func (a slogAdapter) Fatal(args ...any) { a.emit(slog.LevelError, args) }

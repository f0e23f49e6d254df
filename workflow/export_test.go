package workflow

import "time"

// SetEvalDuration shortens MaxEvalDuration for one CompiledParams, so that
// tests of the time limit run quickly.
func SetEvalDuration(c *CompiledParams, d time.Duration) { c.duration = d }

package runtime

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Levels of a [LogLine] that does not come from an Extism log_* call.
const (
	// LevelStderr is a line the guest wrote to its WASI stderr.
	LevelStderr = "stderr"
	// LevelStdout is a line an Extism guest wrote to its WASI stdout (a WASI
	// command's stdout is its output instead).
	LevelStdout = "stdout"
)

// LogLine is one line the guest logged.
type LogLine struct {
	// Time is when the host received the line.
	Time time.Time `json:"time"`
	// Level is "info", "warn" or "error" for the Extism log functions (the
	// runtime does not capture "debug" and "trace"), or [LevelStderr] or
	// [LevelStdout] for lines of the guest's WASI streams.
	Level   string `json:"level"`
	Message string `json:"message"`
}

// logBuffer collects a run's log lines up to max message bytes in total,
// invalid UTF-8 replaced.
// The line that crosses the cap keeps what fits; later lines are dropped.
type logBuffer struct {
	mu        sync.Mutex
	max       int
	used      int
	lines     []LogLine
	truncated bool
}

func (b *logBuffer) add(level, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return
	}
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if room := b.max - b.used; len(msg) > room {
		msg = truncateUTF8(msg, room)
		b.truncated = true
		if msg == "" {
			return
		}
	}
	b.used += len(msg)
	b.lines = append(b.lines, LogLine{Time: time.Now(), Level: level, Message: msg})
}

// room is how many more message bytes fit.
func (b *logBuffer) room() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return 0
	}
	return b.max - b.used
}

func (b *logBuffer) result() ([]LogLine, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lines, b.truncated
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// streamLog is an io.Writer that turns a guest stream into log lines, one
// per '\n'. It buffers at most what still fits in the log, so a guest
// writing one endless line cannot grow host memory.
type streamLog struct {
	logs    *logBuffer
	level   string
	pending []byte
}

// Write implements io.Writer. It never fails: a guest whose logs are full
// carries on, and its lines are dropped.
func (w *streamLog) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		line, rest, found := bytes.Cut(p, []byte{'\n'})
		if room := w.logs.room() + 1 - len(w.pending); room > 0 {
			w.pending = append(w.pending, line[:min(len(line), room)]...)
		}
		if !found {
			break
		}
		w.flush()
		p = rest
	}
	return n, nil
}

// flush logs what is pending as one line.
func (w *streamLog) flush() {
	if len(w.pending) > 0 {
		w.logs.add(w.level, string(w.pending))
		w.pending = w.pending[:0]
	}
}

var errOutputTooLarge = errors.New("output too large")

// outputBuffer is a WASI command's stdout: it keeps at most max bytes and
// remembers an overflow, which fails the run with KindOutputTooLarge.
type outputBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

// Write implements io.Writer; past max it fails, which the guest sees as EIO.
func (o *outputBuffer) Write(p []byte) (int, error) {
	if o.overflow || o.buf.Len()+len(p) > o.max {
		o.overflow = true
		return 0, errOutputTooLarge
	}
	return o.buf.Write(p)
}

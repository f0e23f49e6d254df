package postgres

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wasmflow/wasmflow/store"
)

// Cursor kinds: a cursor names the list it came from, so that one list's
// cursor given to another is refused instead of silently misread.
const (
	cursorAPIKeys          = "api_keys"
	cursorWorkflows        = "workflows"
	cursorWorkflowVersions = "workflow_versions"
	cursorModules          = "modules"
	cursorExecutions       = "executions"
	cursorSecrets          = "secrets"
	cursorAudit            = "audit"
)

// encodeCursor returns the opaque cursor of a page that ended at key: the
// unpadded base64url of the JSON array [kind, key...].
func encodeCursor(kind string, key ...string) string {
	b, _ := json.Marshal(append([]string{kind}, key...)) // strings always encode
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the key parts of a cursor of the given kind, or nil
// for the empty cursor (the first page). A cursor that is not one
// encodeCursor made for kind with n parts is store.ErrInvalidCursor.
func decodeCursor(cursor, kind string, n int) ([]string, error) {
	if cursor == "" {
		return nil, nil
	}
	var parts []string
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		err = json.Unmarshal(b, &parts)
	}
	if err != nil || len(parts) != n+1 || parts[0] != kind {
		return nil, invalidCursor(kind)
	}
	return parts[1:], nil
}

func invalidCursor(kind string) error {
	return fmt.Errorf("%w: not a cursor of the %s list", store.ErrInvalidCursor, kind)
}

// decodeIntCursor decodes a cursor whose key is one integer.
func decodeIntCursor(cursor, kind string) (n int64, ok bool, err error) {
	key, err := decodeCursor(cursor, kind, 1)
	if key == nil {
		return 0, false, err
	}
	n, err = strconv.ParseInt(key[0], 10, 64)
	if err != nil {
		return 0, false, invalidCursor(kind)
	}
	return n, true, nil
}

// pageOf trims a result fetched with limit+1 rows to limit and returns the
// cursor of the next page, "" when there is none.
func pageOf[T any](items []T, limit int, cursor func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, cursor(items[limit-1])
}

// query builds a statement with numbered placeholders: each "?" in a piece
// added by where becomes the next $n.
type query struct {
	conds []string
	args  []any
}

// where adds a condition; its "?" take args in order.
func (q *query) where(cond string, args ...any) {
	var b strings.Builder
	for _, r := range cond {
		if r == '?' {
			q.args = append(q.args, args[0])
			args = args[1:]
			b.WriteString("$" + strconv.Itoa(len(q.args)))
			continue
		}
		b.WriteRune(r)
	}
	q.conds = append(q.conds, b.String())
}

// build returns "<head> WHERE c1 AND c2 … <tail>" with LIMIT limit+1 (the
// extra row tells whether there is a next page), and the arguments.
func (q *query) build(head, tail string, limit int) (string, []any) {
	q.args = append(q.args, limit+1)
	return fmt.Sprintf("%s WHERE %s %s LIMIT $%d", head, strings.Join(q.conds, " AND "), tail, len(q.args)), q.args
}

// now is the time a write records: UTC, truncated to what the column keeps.
func now() time.Time { return norm(time.Now()) }

// norm returns t as it reads back: UTC, truncated to microseconds.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// normp is norm for an optional time.
func normp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := norm(*t)
	return &n
}

// rawJSON checks a JSON document a caller hands in and returns it as the
// store keeps it: nil (SQL NULL) when empty.
func rawJSON(field string, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("store: %s is not valid JSON", field)
	}
	return raw, nil
}

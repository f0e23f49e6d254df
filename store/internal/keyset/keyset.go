// Package keyset holds what the two store backends share for keyset
// pagination: the opaque cursors of list pages, the WHERE clause builder
// whose last argument fetches one extra row, and the trimming of that row.
// The SQL itself stays in each backend.
package keyset

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
	APIKeys          = "api_keys"
	Memberships      = "memberships"
	Workflows        = "workflows"
	WorkflowVersions = "workflow_versions"
	Modules          = "modules"
	Executions       = "executions"
	Secrets          = "secrets"
	Audit            = "audit"
	Schedules        = "schedules"
	Catalog          = "catalog"
)

// Encode returns the opaque cursor of a page that ended at key: the
// unpadded base64url of the JSON array [kind, key...].
func Encode(kind string, key ...string) string {
	b, _ := json.Marshal(append([]string{kind}, key...)) // strings always encode
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns the key parts of a cursor of the given kind, or nil for
// the empty cursor (the first page). A cursor that is not one Encode made
// for kind with n parts is [store.ErrInvalidCursor].
func Decode(cursor, kind string, n int) ([]string, error) {
	if cursor == "" {
		return nil, nil
	}
	var parts []string
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		err = json.Unmarshal(b, &parts)
	}
	if err != nil || len(parts) != n+1 || parts[0] != kind {
		return nil, invalid(kind)
	}
	return parts[1:], nil
}

func invalid(kind string) error {
	return fmt.Errorf("%w: not a cursor of the %s list", store.ErrInvalidCursor, kind)
}

// DecodeInt decodes a cursor whose key is one integer; ok is false for the
// empty cursor.
func DecodeInt(cursor, kind string) (n int64, ok bool, err error) {
	key, err := Decode(cursor, kind, 1)
	if key == nil {
		return 0, false, err
	}
	n, err = strconv.ParseInt(key[0], 10, 64)
	if err != nil {
		return 0, false, invalid(kind)
	}
	return n, true, nil
}

// EncodeTimeID returns the cursor of a page that ended at a row keyed by
// (time, id), the time kept to the microsecond.
func EncodeTimeID(kind string, t time.Time, id string) string {
	return Encode(kind, strconv.FormatInt(t.UnixMicro(), 10), id)
}

// DecodeTimeID decodes a cursor EncodeTimeID made; ok is false for the
// empty cursor. The time is in UTC.
func DecodeTimeID(cursor, kind string) (t time.Time, id string, ok bool, err error) {
	key, err := Decode(cursor, kind, 2)
	if key == nil {
		return time.Time{}, "", false, err
	}
	us, err := strconv.ParseInt(key[0], 10, 64)
	if err != nil {
		return time.Time{}, "", false, invalid(kind)
	}
	return time.UnixMicro(us).UTC(), key[1], true, nil
}

// Trim trims a result fetched with limit+1 rows (see [Query.Build]) to
// limit and returns the cursor of the next page, "" when there is none.
func Trim[T any](items []T, limit int, cursor func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, cursor(items[limit-1])
}

// Query builds a statement with numbered placeholders ($1, $2, …, which
// both Postgres and SQLite accept): each "?" in a condition added by Where
// becomes the next $n. The zero value is ready to use.
type Query struct {
	conds []string
	args  []any
}

// Where adds a condition; its "?" take args in order.
func (q *Query) Where(cond string, args ...any) {
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

// Build returns "<head> WHERE c1 AND c2 … <tail> LIMIT limit+1" (the extra
// row tells whether there is a next page; no WHERE without conditions) and
// the arguments.
func (q *Query) Build(head, tail string, limit int) (string, []any) {
	q.args = append(q.args, limit+1)
	where := ""
	if len(q.conds) > 0 {
		where = " WHERE " + strings.Join(q.conds, " AND ")
	}
	return fmt.Sprintf("%s%s %s LIMIT $%d", head, where, tail, len(q.args)), q.args
}

package keyset_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
)

func TestCursors(t *testing.T) {
	t.Parallel()
	c := keyset.Encode(keyset.Audit, "123", "au_x")
	key, err := keyset.Decode(c, keyset.Audit, 2)
	require.NoError(t, err)
	require.Equal(t, []string{"123", "au_x"}, key)
	key, err = keyset.Decode("", keyset.Audit, 2)
	require.NoError(t, err)
	require.Nil(t, key)

	for name, bad := range map[string]string{
		"other length": c,
		"other kind":   keyset.Encode(keyset.Secrets, "123"),
		"not base64":   "!!!",
		"not JSON":     "bm90IGpzb24",
	} {
		_, err = keyset.Decode(bad, keyset.Audit, 1)
		require.ErrorIs(t, err, store.ErrInvalidCursor, name)
		require.ErrorContains(t, err, "not a cursor of the audit list", name)
	}
}

func TestIntCursor(t *testing.T) {
	t.Parallel()
	n, ok, err := keyset.DecodeInt(keyset.Encode(keyset.WorkflowVersions, "7"), keyset.WorkflowVersions)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(7), n)

	_, ok, err = keyset.DecodeInt("", keyset.WorkflowVersions)
	require.NoError(t, err)
	require.False(t, ok)

	_, _, err = keyset.DecodeInt(keyset.Encode(keyset.WorkflowVersions, "x"), keyset.WorkflowVersions)
	require.ErrorIs(t, err, store.ErrInvalidCursor)
	_, _, err = keyset.DecodeInt(keyset.Encode(keyset.Workflows, "7"), keyset.WorkflowVersions)
	require.ErrorIs(t, err, store.ErrInvalidCursor)
}

func TestTimeIDCursor(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	c := keyset.EncodeTimeID(keyset.Audit, at, "au_1")
	got, id, ok, err := keyset.DecodeTimeID(c, keyset.Audit)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "au_1", id)
	require.Equal(t, at.UTC().Truncate(time.Microsecond), got)
	require.Equal(t, time.UTC, got.Location())

	_, _, ok, err = keyset.DecodeTimeID("", keyset.Audit)
	require.NoError(t, err)
	require.False(t, ok)

	_, _, _, err = keyset.DecodeTimeID(keyset.Encode(keyset.Audit, "soon", "au_1"), keyset.Audit)
	require.ErrorIs(t, err, store.ErrInvalidCursor)
	_, _, _, err = keyset.DecodeTimeID(keyset.Encode(keyset.Audit, "1"), keyset.Audit)
	require.ErrorIs(t, err, store.ErrInvalidCursor)
}

func TestTrim(t *testing.T) {
	t.Parallel()
	cursor := func(n int) string { return strconv.Itoa(n) }
	items, next := keyset.Trim([]int{1, 2, 3}, 2, cursor)
	require.Equal(t, []int{1, 2}, items)
	require.Equal(t, "2", next)
	items, next = keyset.Trim([]int{1, 2}, 2, cursor)
	require.Equal(t, []int{1, 2}, items)
	require.Empty(t, next)
	items, next = keyset.Trim([]int(nil), 2, cursor)
	require.Empty(t, items)
	require.Empty(t, next)
}

func TestQuery(t *testing.T) {
	t.Parallel()
	var q keyset.Query
	q.Where("tenant_id = ?", "tn_1")
	q.Where("deleted_at IS NULL")
	q.Where("(created_at, id) < (?, ?)", 5, "au_1")
	stmt, args := q.Build("SELECT x FROM t", "ORDER BY id DESC", 10)
	require.Equal(t,
		"SELECT x FROM t WHERE tenant_id = $1 AND deleted_at IS NULL AND (created_at, id) < ($2, $3) ORDER BY id DESC LIMIT $4", stmt)
	require.Equal(t, []any{"tn_1", 5, "au_1", 11}, args)
}

func TestQueryWithoutConditions(t *testing.T) {
	t.Parallel()
	var q keyset.Query
	stmt, args := q.Build("SELECT x FROM t", "ORDER BY id", 5)
	require.Equal(t, "SELECT x FROM t ORDER BY id LIMIT $1", stmt)
	require.Equal(t, []any{6}, args)
}

package store_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

func TestNewIDSortsAndIsUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		id := store.NewID("wf")
		require.True(t, strings.HasPrefix(id, "wf_"))
		require.Len(t, id, len("wf_")+26)
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
		// Ids of later milliseconds sort after earlier ones; within one
		// millisecond the order is random, so compare only the time part.
		require.GreaterOrEqual(t, id[:3+9], prev)
		prev = id[:3+9]
	}
}

func TestPageSize(t *testing.T) {
	t.Parallel()
	require.Equal(t, store.DefaultPageSize, store.Page{}.Size())
	require.Equal(t, 7, store.Page{Limit: 7}.Size())
	require.Equal(t, store.MaxPageSize, store.Page{Limit: 10_000}.Size())
}

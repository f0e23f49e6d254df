package nodekit

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLineDiff(t *testing.T) {
	t.Parallel()
	want := "a\nb\nc\nd\ne\nf\ng\nh\ni\n"
	got := "a\nb\nc\nd\nX\nf\ng\nh\ni\nj\n"
	require.Equal(t, "--- want\n+++ got\n@@\n b\n c\n d\n-e\n+X\n f\n g\n h\n i\n+j\n", lineDiff(want, got))
	big := strings.Repeat("x\n", maxDiffLines+1)
	require.Equal(t, "--- want\n"+big+"+++ got\ny\n", lineDiff(big, "y\n"))

	_, err := canonical([]byte(`{} {}`))
	require.ErrorContains(t, err, "data after the JSON value")
	_, err = canonical([]byte(`{`))
	require.Error(t, err)
	require.False(t, jsonEqual([]byte(`{`), []byte(`{`)))
	require.True(t, jsonEqual([]byte(`{"a": 1, "b": [1.0]}`), []byte(`{"b":[1.0],"a":1}`)))
	require.False(t, jsonEqual([]byte(`{"a": 1}`), []byte(`{"a": 1.0}`)), "numbers as written")
	require.Equal(t, []string{"a", "'b c'", "''", "$(wildcard *.c)", `'it'\''s'`}, quoteAll([]string{"a", "b c", "", "$(wildcard *.c)", "it's"}))
	require.Equal(t, "512 B", formatSize(512))
}

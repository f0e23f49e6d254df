package migrations_test

import (
	"io/fs"
	"regexp"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/migrations"
)

func TestListEmbedded(t *testing.T) {
	t.Parallel()
	for name, fsys := range map[string]fs.FS{"postgres": migrations.Postgres(), "sqlite": migrations.SQLite()} {
		ms, err := migrations.List(fsys)
		require.NoError(t, err, name)
		require.NotEmpty(t, ms, name)
		for i, m := range ms {
			require.Equal(t, i+1, m.Version, name)
			require.NotEmpty(t, m.Up, name)
			require.NotEmpty(t, m.Down, name)
		}
		require.Equal(t, "init", ms[0].Name)
	}
}

// The two dialects define the same tables and the same named indexes and
// constraints, version by version.
func TestDialectsDefineTheSameSchema(t *testing.T) {
	t.Parallel()
	pg, err := migrations.List(migrations.Postgres())
	require.NoError(t, err)
	lite, err := migrations.List(migrations.SQLite())
	require.NoError(t, err)
	require.Len(t, lite, len(pg))
	names := regexp.MustCompile(`(?i)(?:CREATE TABLE|CREATE INDEX|CREATE UNIQUE INDEX|CONSTRAINT|DROP TABLE)\s+(\w+)`)
	objects := func(sql string) []string {
		var out []string
		for _, m := range names.FindAllStringSubmatch(sql, -1) {
			out = append(out, m[0][:4]+" "+m[1])
		}
		slices.Sort(out)
		return out
	}
	for i := range pg {
		require.Equal(t, pg[i].Name, lite[i].Name)
		require.Equal(t, objects(pg[i].Up), objects(lite[i].Up), "version %d up", pg[i].Version)
		require.Equal(t, objects(pg[i].Down), objects(lite[i].Down), "version %d down", pg[i].Version)
	}
}

func TestListSorts(t *testing.T) {
	t.Parallel()
	ms, err := migrations.List(fstest.MapFS{
		"0002_more.up.sql":   {Data: []byte("B")},
		"0001_init.down.sql": {Data: []byte("a")},
		"0002_more.down.sql": {Data: []byte("b")},
		"0001_init.up.sql":   {Data: []byte("A")},
	})
	require.NoError(t, err)
	require.Equal(t, []migrations.Migration{
		{Version: 1, Name: "init", Up: "A", Down: "a"},
		{Version: 2, Name: "more", Up: "B", Down: "b"},
	}, ms)

	ms, err = migrations.List(fstest.MapFS{})
	require.NoError(t, err)
	require.Empty(t, ms)
}

func TestListRefuses(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for name, fsys := range map[string]fstest.MapFS{
		"bad name":     {"init.up.sql": file("x")},
		"no direction": {"0001_init.sql": file("x")},
		"upper case":   {"0001_Init.up.sql": file("x"), "0001_Init.down.sql": file("x")},
		"directory":    {"0001_init.up.sql/x": file("x")},
		"no down":      {"0001_init.up.sql": file("x")},
		"no up":        {"0001_init.down.sql": file("x")},
		"empty up":     {"0001_init.up.sql": file(""), "0001_init.down.sql": file("x")},
		"two names":    {"0001_init.up.sql": file("x"), "0001_other.down.sql": file("x")},
		"gap": {
			"0001_init.up.sql": file("x"), "0001_init.down.sql": file("x"),
			"0003_more.up.sql": file("x"), "0003_more.down.sql": file("x"),
		},
		"starts at 2": {"0002_init.up.sql": file("x"), "0002_init.down.sql": file("x")},
	} {
		_, err := migrations.List(fsys)
		require.Error(t, err, name)
	}
	_, err := migrations.List(fstest.MapFS{"a": {Mode: fs.ModeSymlink, Data: []byte("nowhere")}})
	require.Error(t, err)
}

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

func TestPlan(t *testing.T) {
	t.Parallel()
	all := []migrations.Migration{
		{Version: 1, Name: "init", Up: "UP1", Down: "DOWN1"},
		{Version: 2, Name: "more", Up: "UP2", Down: "DOWN2"},
		{Version: 3, Name: "last", Up: "UP3", Down: "DOWN3"},
	}
	names := func(steps []migrations.Step) []string {
		out := []string{}
		for _, st := range steps {
			out = append(out, st.String())
		}
		return out
	}
	for _, tc := range []struct {
		name            string
		current, target int
		want            []string
	}{
		{"all up", 0, 3, []string{"0001_init up", "0002_more up", "0003_last up"}},
		{"some up", 1, 3, []string{"0002_more up", "0003_last up"}},
		{"none", 2, 2, []string{}},
		{"some down", 3, 1, []string{"0003_last down", "0002_more down"}},
		{"all down", 2, 0, []string{"0002_more down", "0001_init down"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			steps, err := migrations.Plan(all, tc.current, tc.target)
			require.NoError(t, err)
			require.Equal(t, tc.want, names(steps))
		})
	}

	steps, err := migrations.Plan(all, 1, 2)
	require.NoError(t, err)
	require.Equal(t, "UP2\n;INSERT INTO schema_migrations (version, name) VALUES (2, 'more');", steps[0].SQL)
	require.Equal(t, "migration applied", steps[0].Event())
	steps, err = migrations.Plan(all, 2, 1)
	require.NoError(t, err)
	require.Equal(t, "DOWN2\n;DELETE FROM schema_migrations WHERE version = 2;", steps[0].SQL)
	require.Equal(t, "migration reverted", steps[0].Event())

	_, err = migrations.Plan(all, 0, -1)
	require.EqualError(t, err, "no version -1 (this binary knows 0 to 3)")
	_, err = migrations.Plan(all, 0, 4)
	require.EqualError(t, err, "no version 4 (this binary knows 0 to 3)")
	_, err = migrations.Plan(all, 9, 3)
	require.EqualError(t, err, "the database is at version 9, newer than this binary's 3")
}

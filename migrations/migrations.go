// Package migrations holds the SQL schema of both store backends as
// versioned, embedded files, and the helper that lists them in order.
//
// Files are named NNNN_name.up.sql and NNNN_name.down.sql, one pair per
// version, numbered from 0001 without gaps. Postgres files live in postgres/,
// SQLite files in sqlite/. The backends (store/postgres, store/sqlite) apply
// them and record each applied version in a schema_migrations table; this
// package only reads files and imports nothing of wasmflow.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
)

//go:embed postgres/*.sql
var postgresFS embed.FS

//go:embed sqlite/*.sql
var sqliteFS embed.FS

// Postgres returns the Postgres migration files, at the root of the returned FS.
func Postgres() fs.FS { return sub(postgresFS, "postgres") }

// SQLite returns the SQLite migration files, at the root of the returned FS.
func SQLite() fs.FS { return sub(sqliteFS, "sqlite") }

func sub(fsys embed.FS, dir string) fs.FS {
	s, _ := fs.Sub(fsys, dir) // fails only for an invalid path; dir is a valid constant
	return s
}

// Migration is one schema version: the SQL that applies it and the SQL that
// reverts it.
type Migration struct {
	// Version numbers migrations from 1, without gaps.
	Version int
	// Name is the part of the file name after the version, such as "init".
	Name string
	// Up applies the version; Down reverts it.
	Up, Down string
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$`)

// List reads the migrations at the root of fsys (such as [Postgres] or
// [SQLite]) and returns them sorted by version. It fails on a file that is
// not named NNNN_name.(up|down).sql, on a version without both halves, on two
// names for one version, and on a gap in the numbering.
func List(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			return nil, fmt.Errorf("migrations: unexpected file %q (want NNNN_name.up.sql or NNNN_name.down.sql)", e.Name())
		}
		version, _ := strconv.Atoi(m[1]) // four digits always parse
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		mig := byVersion[version]
		if mig == nil {
			mig = &Migration{Version: version, Name: m[2]}
			byVersion[version] = mig
		}
		if mig.Name != m[2] {
			return nil, fmt.Errorf("migrations: version %04d has two names, %q and %q", version, mig.Name, m[2])
		}
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: version %04d missing (found %04d)", i+1, m.Version)
		}
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migrations: version %04d_%s needs both an up and a down file", m.Version, m.Name)
		}
	}
	return out, nil
}

// Step is one migration to run, up or down, as one piece of SQL.
type Step struct {
	Migration
	// Down is true when the step reverts the migration.
	Down bool
	// SQL is the migration's up or down file followed by the statement that
	// records (or deletes) its version in the schema_migrations table, so
	// that the change and its record apply together.
	SQL string
}

// String names the step, such as "0002_audit up".
func (s Step) String() string {
	dir := "up"
	if s.Down {
		dir = "down"
	}
	return fmt.Sprintf("%04d_%s %s", s.Version, s.Name, dir)
}

// Event says what the step did, for a log line: "migration applied" or
// "migration reverted".
func (s Step) Event() string {
	if s.Down {
		return "migration reverted"
	}
	return "migration applied"
}

// Plan returns the steps that move a schema from version current (the
// newest row of its schema_migrations table, 0 for none) to target: the
// versions after current up to target in order, or those from current down
// to after target, newest first. all is what [List] returned. It fails when
// target is not between 0 and the newest version of all, and when current
// is newer than all knows (a newer binary migrated the database).
func Plan(all []Migration, current, target int) ([]Step, error) {
	if target < 0 || target > len(all) {
		return nil, fmt.Errorf("no version %d (this binary knows 0 to %d)", target, len(all))
	}
	if current > len(all) {
		return nil, fmt.Errorf("the database is at version %d, newer than this binary's %d", current, len(all))
	}
	var steps []Step
	for _, m := range all[min(current, target):target] {
		// Names are [a-z0-9_]+ (List checks), safe as a literal.
		record := fmt.Sprintf("\n;INSERT INTO schema_migrations (version, name) VALUES (%d, '%s');", m.Version, m.Name)
		steps = append(steps, Step{Migration: m, SQL: m.Up + record})
	}
	for i := current; i > target; i-- {
		m := all[i-1]
		record := fmt.Sprintf("\n;DELETE FROM schema_migrations WHERE version = %d;", m.Version)
		steps = append(steps, Step{Migration: m, Down: true, SQL: m.Down + record})
	}
	return steps, nil
}

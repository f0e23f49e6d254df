// Package testdb gives integration tests the services they need: a fresh
// Postgres schema per test, a reachable Redis address, a logger that writes
// to the test log. Only _test.go files import it.
//
// Services come from the environment: TEST_DATABASE_URL (a postgres:// URL
// or a keyword/value DSN) and TEST_REDIS_ADDR (host:port). When one is unset
// or unreachable the test is skipped, with a message that says so, except
// when CI is set: in CI a missing service fails the test, so integration
// suites never pass by skipping.
package testdb

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by this package.
const (
	EnvDatabaseURL = "TEST_DATABASE_URL"
	EnvRedisAddr   = "TEST_REDIS_ADDR"
	EnvCI          = "CI"
)

// timeout bounds each setup and cleanup step.
const timeout = 10 * time.Second

// Postgres creates a schema named t_<random> in the database of
// TEST_DATABASE_URL and returns that URL with search_path set to the new
// schema, so that everything the test creates lands there. The schema is
// dropped (CASCADE) when the test ends. Cleanups run last-in, first-out, so
// a store opened after this call and closed in t.Cleanup is closed before
// the drop.
//
// Unset or unreachable: t.Skip, or t.Fatal when CI is set.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		unavailable(t, "%s is not set: Postgres integration tests are SKIPPED (set it, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvDatabaseURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unavailable(t, "%s is set but Postgres is unreachable, integration tests are SKIPPED: %v", EnvDatabaseURL, err)
	}
	defer func() { _ = conn.Close(ctx) }()

	schema := "t_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testdb: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("testdb: drop schema %s: %v", schema, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("testdb: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// DumpPostgres returns every row of every table in the schema that url's
// search_path names (a URL from [Postgres]), one row per line as PostgreSQL
// writes a row as text: what a test scans for bytes that must never be stored.
func DumpPostgres(t testing.TB, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("testdb: dump: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")
	if err != nil {
		t.Fatalf("testdb: dump: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("testdb: dump: %v", err)
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := conn.Query(ctx, "SELECT t::text FROM "+pgx.Identifier{table}.Sanitize()+" t")
		if err != nil {
			t.Fatalf("testdb: dump %s: %v", table, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("testdb: dump %s: %v", table, err)
		}
		for _, line := range lines {
			fmt.Fprintf(&b, "%s: %s\n", table, line)
		}
	}
	return b.String()
}

// withSearchPath adds search_path=schema to a URL or keyword/value DSN.
func withSearchPath(base, schema string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		if u, err := url.Parse(base); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return base + " search_path=" + schema
}

// RedisAddr returns TEST_REDIS_ADDR once a Redis there has answered PING.
// Tests that use it must use their own key prefix or queue names.
//
// Unset or unreachable: t.Skip, or t.Fatal when CI is set.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvRedisAddr)
	if addr == "" {
		unavailable(t, "%s is not set: Redis integration tests are SKIPPED (set it, e.g. 127.0.0.1:6379)", EnvRedisAddr)
	}
	if err := ping(addr); err != nil {
		unavailable(t, "%s is set but Redis is unreachable, integration tests are SKIPPED: %v", EnvRedisAddr, err)
	}
	return addr
}

// ping sends PING over RESP and expects +PONG (or an authentication error,
// which also proves a Redis is there).
func ping(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// CI reports whether the CI environment variable is set (to anything but
// "", "0" or "false").
func CI() bool {
	v := os.Getenv(EnvCI)
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("testdb: %s [CI is set: a missing service fails the test]", strings.Replace(msg, " are SKIPPED", " cannot run", 1))
	}
	t.Skipf("testdb: %s", msg)
}

// Logger returns a logger that writes text lines to the test log. Use it
// only while the test runs.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

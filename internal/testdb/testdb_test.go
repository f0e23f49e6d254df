package testdb

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// fakeTB records what Skipf and Fatalf were told, and stops the helper
// there as the real ones do.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

type stopped struct{}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	panic(stopped{})
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(stopped{})
}

// call runs fn on a fakeTB and reports what it did.
func call(t *testing.T, fn func(tb testing.TB) string) (got string, f *fakeTB) {
	f = &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != (stopped{}) {
				panic(r)
			}
		}()
		got = fn(f)
	}()
	return got, f
}

// Tests here change the environment, so none runs in parallel.

func TestMissingServiceSkipsOrFailsInCI(t *testing.T) {
	for _, c := range []struct {
		name, url, redis string
	}{
		{"unset", "", ""},
		{"unreachable", "postgres://nobody@127.0.0.1:1/x?connect_timeout=1", "127.0.0.1:1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvDatabaseURL, c.url)
			t.Setenv(EnvRedisAddr, c.redis)
			for _, ci := range []string{"", "0", "false", "FALSE"} {
				t.Setenv(EnvCI, ci)
				_, f := call(t, Postgres)
				require.Contains(t, f.skipped, "SKIPPED", "CI=%q", ci)
				require.Empty(t, f.failed)
				_, f = call(t, RedisAddr)
				require.Contains(t, f.skipped, "SKIPPED")
			}
			for _, ci := range []string{"1", "true"} {
				t.Setenv(EnvCI, ci)
				_, f := call(t, Postgres)
				require.Contains(t, f.failed, "CI is set", "CI=%q", ci)
				require.Empty(t, f.skipped)
				_, f = call(t, RedisAddr)
				require.Contains(t, f.failed, "CI is set")
			}
		})
	}
}

func TestPostgresGivesAFreshSchema(t *testing.T) {
	var url string
	t.Run("inner", func(t *testing.T) {
		url = Postgres(t)
		require.Regexp(t, `search_path=t_[0-9a-f]{16}`, url)
		conn, err := pgx.Connect(t.Context(), url)
		require.NoError(t, err)
		defer func() { _ = conn.Close(t.Context()) }()
		var schema string
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema))
		require.True(t, strings.HasPrefix(schema, "t_"))
		_, err = conn.Exec(t.Context(), "CREATE TABLE x (id int)")
		require.NoError(t, err, "tables land in the test's schema")
	})
	if url == "" {
		t.Skip("no Postgres")
	}
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer func() { _ = conn.Close(t.Context()) }()
	var schema *string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema))
	require.Nil(t, schema, "the schema is dropped when the test ends")
}

func TestWithSearchPath(t *testing.T) {
	t.Parallel()
	require.Equal(t, "postgres://u@h/db?search_path=t_1&sslmode=disable",
		withSearchPath("postgres://u@h/db?sslmode=disable", "t_1"))
	require.Equal(t, "postgresql://u@h/db?search_path=t_1", withSearchPath("postgresql://u@h/db", "t_1"))
	require.Equal(t, "host=h user=u search_path=t_1", withSearchPath("host=h user=u", "t_1"))
}

// fakeRedis answers one line to every connection.
func fakeRedis(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { _ = l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = bufio.NewReader(c).ReadString('\n')
			_, _ = c.Write([]byte(reply))
			_ = c.Close()
		}
	}()
	return l.Addr().String()
}

func TestRedisAddr(t *testing.T) {
	t.Setenv(EnvCI, "")
	for reply, ok := range map[string]bool{
		"+PONG\r\n":                            true,
		"-NOAUTH Authentication required.\r\n": true,
		"-ERR unknown command\r\n":             false,
		"":                                     false,
	} {
		addr := fakeRedis(t, reply)
		t.Setenv(EnvRedisAddr, addr)
		got, f := call(t, RedisAddr)
		if ok {
			require.Equal(t, addr, got, "reply %q", reply)
			continue
		}
		require.Contains(t, f.skipped, "unreachable", "reply %q", reply)
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	Logger(t).Info("hello", "k", "v")
}

func TestDumpPostgres(t *testing.T) {
	url := Postgres(t)
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer func() { _ = conn.Close(t.Context()) }()
	_, err = conn.Exec(t.Context(), `CREATE TABLE "odd name" (id int, v text); INSERT INTO "odd name" VALUES (1, 'needle'), (2, NULL);
		CREATE TABLE empty (id int)`)
	require.NoError(t, err)
	dump := DumpPostgres(t, url)
	require.Contains(t, dump, "odd name: (1,needle)\n")
	require.Contains(t, dump, "odd name: (2,)\n")
	require.NotContains(t, dump, "empty:")
}

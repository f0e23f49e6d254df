package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/api"
	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
)

// serveConfig is everything `wasmflow serve` needs.
type serveConfig struct {
	store           storeConfig
	Listen          string
	ShutdownTimeout time.Duration
	// ExamplesDir, when set, holds node modules (one folder each, a
	// wasmflow.json beside its .wasm) installed into tenant "default" at
	// start; installing is idempotent.
	ExamplesDir string
	// PlatformKeyFile is the platform publisher's signing key, which signs
	// the examples; empty is <data-dir>/platform-signing-key, created on
	// first start. Processes that install examples share one in a
	// distributed deployment.
	PlatformKeyFile string
	// Roles are what this process does: api, worker, scheduler; none is all.
	Roles []string
	// RedisAddr selects the Asynq queue on Redis; empty is the in-process queue.
	RedisAddr string
	// RedisQueue names the Asynq queue, so deployments can share a Redis.
	RedisQueue string
	// Workers is how many node runs one worker process runs at once; 0 is 4 × cores.
	Workers int
	// Lease is how long a worker's claim on a node run lasts unless extended.
	Lease time.Duration
	// ReconcileInterval is the pause between reconciler passes.
	ReconcileInterval time.Duration
	// Retention prunes finished executions older than it; 0 keeps them.
	Retention time.Duration
	// HTTP configures the HTTP host function of every node run.
	HTTP registry.HTTPOptions
	// Limits bound what each tenant may use.
	Limits api.TenantLimits
	// MaxActiveExecutions and MaxWaitingExecutions are each tenant's
	// execution slots and the executions that may wait for one.
	MaxActiveExecutions, MaxWaitingExecutions int
	// MaxModuleBytes caps a module a tenant uploads.
	MaxModuleBytes int64
	// ScheduleGrace is how late a schedule tick may still fire.
	ScheduleGrace time.Duration
	// WebhookMaxBodyBytes caps a webhook request's body.
	WebhookMaxBodyBytes int
	// PublicURL is the server's URL as webhook callers reach it.
	PublicURL string
}

// Roles of a serve process.
const (
	roleAPI       = "api"
	roleWorker    = "worker"
	roleScheduler = "scheduler"
)

func newServeCmd(logs *logConfig) *cobra.Command {
	cfg := serveConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (embedded SQLite by default, PostgreSQL with --database-url, Redis workers with --redis-addr)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := logs.newLogger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, logger, nil)
		},
	}
	addStoreFlags(cmd, &cfg.store)
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address the HTTP API listens on (role api)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown may take")
	f.StringVar(&cfg.ExamplesDir, "examples-dir", "", "install the node modules found here (<dir>/*/wasmflow.json + .wasm) into tenant \"default\" at start")
	f.StringVar(&cfg.PlatformKeyFile, "platform-key-file", "", "the platform publisher's signing key, which signs the --examples-dir modules for the marketplace (default <data-dir>/"+platformKeyFile+", created 0600 on first start; share one file between processes)")
	f.StringSliceVar(&cfg.Roles, "roles", []string{roleAPI, roleWorker, roleScheduler}, "what this process does: api (HTTP API and webhooks), worker (runs node runs), scheduler (schedules, reconciler, retention)")
	f.StringVar(&cfg.RedisAddr, "redis-addr", "", "Redis host:port: node runs go through Asynq on Redis, and any number of --roles worker processes can join")
	f.StringVar(&cfg.RedisQueue, "redis-queue", "wasmflow", "the Asynq queue name, so several deployments can share one Redis")
	f.IntVar(&cfg.Workers, "workers", 0, "node runs a worker runs at once (0: 4 × CPU cores)")
	f.DurationVar(&cfg.Lease, "lease", engine.DefaultLeaseDuration, "how long a worker's claim on a node run lasts unless extended; a crashed worker's runs start again after it")
	f.DurationVar(&cfg.ReconcileInterval, "reconcile-interval", engine.DefaultReconcileInterval, "pause between reconciler passes (role scheduler)")
	f.DurationVar(&cfg.Retention, "execution-retention", 0, "prune finished executions older than this (e.g. 720h); 0 keeps them")
	f.IntVar(&cfg.Limits.RequestsPerMinute, "tenant-requests-per-minute", 6000, "API requests a tenant may make a minute, per API process (0: no limit)")
	f.IntVar(&cfg.Limits.MaxSecrets, "tenant-max-secrets", 1000, "secrets a tenant may store (0: no limit)")
	f.IntVar(&cfg.MaxActiveExecutions, "tenant-max-concurrent-executions", 50, "executions of one tenant that run at once; the next ones wait, oldest first (0: no limit; every role must use the same value)")
	f.Int64Var(&cfg.MaxModuleBytes, "tenant-max-module-bytes", registry.DefaultMaxModuleBytes, "largest node module (.wasm) a tenant may upload; larger uploads are refused with 413 module_too_large")
	f.IntVar(&cfg.MaxWaitingExecutions, "tenant-max-waiting-executions", 10000, "executions of one tenant that may wait for a slot; more are refused with 429 (0: no cap)")
	f.DurationVar(&cfg.ScheduleGrace, "schedule-grace", engine.DefaultScheduleGrace, "how late a schedule tick may still fire; older ticks were missed and follow the schedule's missed policy (role scheduler)")
	f.IntVar(&cfg.WebhookMaxBodyBytes, "webhook-max-body-bytes", api.DefaultBodyLimit, "largest webhook request body (a webhook node's max_body_bytes may lower it)")
	f.StringVar(&cfg.PublicURL, "public-url", "", "the server's URL as webhook callers reach it (https://wasmflow.example.com), for the webhook URLs the API shows; empty shows paths")
	f.BoolVar(&cfg.HTTP.AllowPrivate, "http-allow-private", false, "let nodes' HTTP requests reach loopback and private addresses (labs and tests only; metadata addresses stay closed)")
	f.Var(addrPortsValue{&cfg.HTTP.AllowAddrs}, "http-allow-addr", "an internal address:port nodes' HTTP requests may reach (repeatable), without opening every private address")
	f.DurationVar(&cfg.HTTP.Timeout, "http-timeout", hostfuncs.DefaultHTTPTimeout, "time limit of one HTTP request of a node, redirects included")
	f.Int64Var(&cfg.HTTP.MaxResponseBytes, "http-max-response-bytes", hostfuncs.DefaultHTTPMaxResponseBytes, "largest response body a node's HTTP request may read")
	f.IntVar(&cfg.HTTP.MaxRequests, "http-max-requests", hostfuncs.DefaultHTTPMaxRequests, "HTTP requests one node run may send, redirects included")
	return cmd
}

// has reports whether the process has a role.
func (c *serveConfig) has(role string) bool { return slices.Contains(c.Roles, role) }

// checkRoles refuses unknown roles, and a split of roles without a shared
// queue: an in-process queue reaches only its own process.
func (c *serveConfig) checkRoles() error {
	if len(c.Roles) == 0 {
		c.Roles = []string{roleAPI, roleWorker, roleScheduler}
	}
	for _, r := range c.Roles {
		if r != roleAPI && r != roleWorker && r != roleScheduler {
			return fmt.Errorf("--roles: %q is not api, worker or scheduler", r)
		}
	}
	if c.RedisAddr == "" && (!c.has(roleAPI) || !c.has(roleWorker) || !c.has(roleScheduler)) {
		return errors.New("--roles: running only some roles needs --redis-addr (and --database-url): the in-process queue and SQLite serve one process")
	}
	return nil
}

// serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then shuts
// down gracefully. ready, when not nil, receives the address once listening
// (or "" for a process without the api role, once started).
func serve(ctx context.Context, cfg serveConfig, logger *slog.Logger, ready chan<- string) error {
	if err := cfg.checkRoles(); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.store, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the store", slog.Any("err", err))
		}
	}()

	// The api role creates the first tenant and key: a worker has no use
	// for the key, and only one process should race to create them.
	if cfg.has(roleAPI) {
		if err := bootstrap(ctx, st, cfg.store, logger); err != nil {
			return err
		}
	}
	kr, err := loadVault(cfg.store, cfg.has(roleAPI), logger)
	if err != nil {
		return err
	}
	var jwtKeys *auth.JWTKeys
	if cfg.has(roleAPI) {
		if jwtKeys, err = loadJWTKeys(cfg.store, logger); err != nil {
			return err
		}
	}

	rt, err := runtime.New(ctx, runtime.Config{CacheDir: filepath.Join(cfg.store.DataDir, "compile-cache"), Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		if err := rt.Close(context.WithoutCancel(ctx)); err != nil {
			logger.Error("closing the runtime", slog.Any("err", err))
		}
	}()
	secrets := &vault.Reader{Store: st, Keys: kr}
	if kr == nil { // a worker started before the key file was written finds it later
		secrets.LoadKeys = func() (*vault.Keyring, error) { return existingKeys(cfg.store) }
	}
	reg, err := registry.New(registry.Config{
		Store: st, Runtime: rt, Logger: logger, Secrets: secrets, Audit: st, HTTP: cfg.HTTP,
		MaxModuleBytes: cfg.MaxModuleBytes,
	})
	if err != nil {
		return err
	}
	if cfg.ExamplesDir != "" {
		if err := installExamples(ctx, st, reg, cfg, logger); err != nil {
			return err
		}
	}

	q, err := openQueue(cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := q.Close(); err != nil {
			logger.Error("closing the queue", slog.Any("err", err))
		}
	}()
	metrics := prometheus.NewRegistry()
	engineMetrics, err := registerMetrics(metrics, q, rt)
	if err != nil {
		return err
	}
	eng, err := engine.New(engine.Config{
		Store: st, Queue: q, Modules: reg, Runtime: rt, Logger: logger, Metrics: engineMetrics,
		LeaseDuration: cfg.Lease, ReconcileInterval: cfg.ReconcileInterval, Retention: cfg.Retention,
		MaxActiveExecutions: cfg.MaxActiveExecutions, MaxWaitingExecutions: cfg.MaxWaitingExecutions,
		ScheduleGrace: cfg.ScheduleGrace,
	})
	if err != nil {
		return err
	}

	runCtx, stopRoles := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRoles()
	var roles sync.WaitGroup
	if cfg.has(roleWorker) {
		roles.Go(func() {
			if err := eng.Work(runCtx); err != nil {
				logger.Error("worker stopped", slog.Any("err", err))
			}
		})
	}
	if cfg.has(roleScheduler) {
		roles.Go(func() { _ = eng.Reconcile(runCtx) })
		roles.Go(func() { _ = eng.Schedule(runCtx) })
	}
	logger.Info("wasmflow started", slog.Any("roles", cfg.Roles), cfg.store.describe(), queueAttr(cfg), slog.String("version", version))

	if cfg.has(roleAPI) {
		err = serveAPI(ctx, cfg, api.Config{
			Store: st, Registry: reg, Engine: eng, Logger: logger, Version: version, Vault: kr, Limits: cfg.Limits, JWTKeys: jwtKeys,
			WebhookBodyLimit: cfg.WebhookMaxBodyBytes, PublicURL: cfg.PublicURL,
			Metrics:   promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}),
			Readiness: []api.ReadinessCheck{{Name: "queue", CheckFunc: q.Ping}},
		}, logger, ready)
	} else {
		if ready != nil {
			ready <- ""
		}
		<-ctx.Done()
	}
	logger.Info("stopping the roles")
	stopRoles() // the queue waits for running node runs, then hands them back
	roles.Wait()
	if err == nil {
		logger.Info("stopped")
	}
	return err
}

// loadVault finds the master keys that encrypt secrets: WASMFLOW_MASTER_KEY
// when set, else <data-dir>/master-key, created (0600) on first start of an
// api process. A process without the api role (a worker) never creates one:
// a key of its own could open nothing. Without a key it runs, and node runs
// that read secrets fail saying the key is missing.
func loadVault(cfg storeConfig, create bool, logger *slog.Logger) (*vault.Keyring, error) {
	if !create {
		kr, err := existingKeys(cfg)
		if err != nil {
			return nil, err
		}
		if kr == nil {
			logger.Warn("no secrets master key yet: node runs that read secrets look for " + vault.EnvMasterKey +
				" or the key file again, and fail while there is none")
			return nil, nil
		}
		logger.Info("secrets master key loaded", slog.Any("keyring", kr))
		return kr, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	kr, source, err := vault.Load(cfg.DataDir, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	logger.Info("secrets master key loaded", slog.String("source", source), slog.Any("keyring", kr))
	return kr, nil
}

// existingKeys returns the master keys from the environment or an existing
// key file, nil when there are none.
func existingKeys(cfg storeConfig) (*vault.Keyring, error) {
	kr, ok, err := vault.FromEnv(os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if ok {
		return kr, nil
	}
	kr, err = vault.LoadFile(filepath.Join(cfg.DataDir, vault.KeyFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return kr, nil
}

// loadJWTKeys finds the keys that sign user sessions' access tokens:
// WASMFLOW_JWT_KEYS when set, else <data-dir>/jwt-keys, created (0600) on
// the first start of an api process. Every api process must share them.
func loadJWTKeys(cfg storeConfig, logger *slog.Logger) (*auth.JWTKeys, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("jwt keys: %w", err)
	}
	k, source, err := auth.LoadJWTKeys(cfg.DataDir, true, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("jwt keys: %w", err)
	}
	logger.Info("jwt signing keys loaded", slog.String("source", source), slog.String("kid", k.CurrentID()))
	return k, nil
}

// serveAPI serves the HTTP API until ctx is done, then shuts it down.
func serveAPI(ctx context.Context, cfg serveConfig, apiCfg api.Config, logger *slog.Logger, ready chan<- string) error {
	srv, err := api.New(apiCfg)
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("wasmflow serving", slog.String("addr", ln.Addr().String()))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	served := make(chan error, 1)
	go func() { served <- srv.Listen(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", slog.String("timeout", cfg.ShutdownTimeout.String()))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// bootstrap creates the default tenant and its owner key on an empty store
// and writes the key to <data-dir>/admin-api-key (0600): the one time anyone
// sees it.
func bootstrap(ctx context.Context, st store.Store, cfg storeConfig, logger *slog.Logger) error {
	key, created, err := auth.Bootstrap(ctx, st)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if !created {
		return nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "admin-api-key")
	if err := writeSecretFile(path, key); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	logger.Warn("created tenant \"default\" and its owner API key; it is shown only now and kept in the key file",
		slog.String("api_key", key), slog.String("key_file", path))
	return nil
}

// writeSecretFile writes content to a file readable by its owner only. A file
// left from an earlier, deleted store is replaced rather than reused, so its
// looser mode (if any) cannot carry over.
func writeSecretFile(path, content string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the operator chooses the data dir
	if err != nil {
		return err
	}
	_, err = f.WriteString(content + "\n")
	return errors.Join(err, f.Close())
}

// platformKeyFile is the platform key's file name in the data dir.
const platformKeyFile = "platform-signing-key"

// installExamples installs the modules of --examples-dir into tenant
// "default", signed by the platform publisher "wasmflow" and published to
// the marketplace, so that every tenant can install them. A folder that
// fails is logged and skipped, so one broken example does not keep the
// server from starting; a missing tenant, directory or unusable key is an
// error.
func installExamples(ctx context.Context, st store.Store, reg *registry.Registry, cfg serveConfig, logger *slog.Logger) error {
	dir := cfg.ExamplesDir
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("--examples-dir: %w", err)
	}
	tenant, err := st.TenantGetByName(ctx, auth.DefaultTenant)
	if err != nil {
		return fmt.Errorf("--examples-dir: tenant %q: %w", auth.DefaultTenant, err)
	}
	key, err := loadPlatformKey(cfg, logger)
	if err != nil {
		return err
	}
	installed, err := reg.InstallDirSigned(ctx, tenant.ID, dir, key)
	for _, v := range installed {
		logger.Info("example node installed and published", slog.String("node", v.Name+"@"+v.Version))
	}
	if err != nil {
		logger.Warn("some example nodes were not installed", slog.Any("err", err))
	}
	return nil
}

// loadPlatformKey reads the platform's signing key, creating it (0600) in
// the data dir on first start when no file is named.
func loadPlatformKey(cfg serveConfig, logger *slog.Logger) (*signing.PrivateKey, error) {
	path := cfg.PlatformKeyFile
	create := path == ""
	if create {
		path = filepath.Join(cfg.store.DataDir, platformKeyFile)
	}
	b, err := os.ReadFile(path) //nolint:gosec // the operator names the file
	if errors.Is(err, fs.ErrNotExist) && create {
		key, err := signing.GenerateKey(registry.PlatformPublisher)
		if err != nil {
			return nil, fmt.Errorf("platform key: %w", err)
		}
		if err := os.MkdirAll(cfg.store.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("platform key: %w", err)
		}
		if err := writeSecretFile(path, strings.TrimSpace(string(key.Marshal()))); err != nil {
			return nil, fmt.Errorf("platform key: %w", err)
		}
		logger.Info("created the platform signing key", slog.String("key_file", path), slog.String("key_id", key.KeyID))
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--platform-key-file: %w", err)
	}
	key, err := signing.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("--platform-key-file %s: %w", path, err)
	}
	return key, nil
}

// addrPortsValue is a repeatable flag of address:port pairs ("10.0.0.5:8080", "[fd00::1]:443").
type addrPortsValue struct{ list *[]netip.AddrPort }

func (v addrPortsValue) String() string {
	if v.list == nil {
		return ""
	}
	parts := make([]string, len(*v.list))
	for i, ap := range *v.list {
		parts[i] = ap.String()
	}
	return strings.Join(parts, ",")
}

func (v addrPortsValue) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		ap, err := netip.ParseAddrPort(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("want an IP address and port such as 10.0.0.5:8080: %w", err)
		}
		*v.list = append(*v.list, ap)
	}
	return nil
}

func (addrPortsValue) Type() string { return "addr:port" }

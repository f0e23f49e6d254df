package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
)

// Paths outside the resources.
const (
	apiPrefix   = "/api/v1"
	openAPIPath = apiPrefix + "/openapi.json"
	metricsPath = "/metrics"
)

// DefaultBodyLimit caps a JSON request body (1 MiB).
const DefaultBodyLimit = 1 << 20

// bodyCeiling is the most fasthttp reads of any request body: twice the
// largest operation cap.
func bodyCeiling(largestCap int) int { return 2 * largestCap }

// Config configures a Server. Store is required; every other field has a default.
type Config struct {
	// Store holds everything the API reads and writes. Required.
	Store store.Store
	// Logger receives one line per request and the cause of every 5xx.
	// Defaults to discarding them.
	Logger *slog.Logger
	// BodyLimit caps each operation's request body in bytes; a larger one
	// gets 413 body_too_large. Defaults to DefaultBodyLimit (1 MiB).
	// fasthttp reads at most twice this much of any body before refusing
	// the request outright (also 413).
	BodyLimit int
	// Version is reported by /healthz and in the OpenAPI document. Defaults to "dev".
	Version string
	// Readiness lists what /readyz checks besides the store (the queue, …).
	Readiness []ReadinessCheck
	// ReadTimeout bounds reading one request, headers and body. Defaults to 30s.
	ReadTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long. Defaults to 2m.
	IdleTimeout time.Duration
	// Registry holds the tenants' node modules. The /api/v1/nodes routes
	// exist only when it is set. Uploads get their own body cap, derived
	// from the registry's module, manifest and signature caps (see
	// uploadBodyLimit); every other operation keeps BodyLimit.
	Registry *registry.Registry
	// Engine starts and controls executions. The execution routes exist
	// only when it is set.
	Engine *engine.Engine
	// Metrics, when set, is served at /metrics (Prometheus text format),
	// without a key like /healthz.
	Metrics http.Handler
	// Vault encrypts secrets. The /api/v1/secrets routes exist only when
	// it is set.
	Vault *vault.Keyring
	// Limits bound what each tenant may use.
	Limits TenantLimits
	// WebhookBodyLimit caps a webhook request's body in bytes (a webhook
	// node's max_body_bytes may lower it); a larger one gets 413. Defaults
	// to DefaultBodyLimit (1 MiB).
	WebhookBodyLimit int
	// PublicURL is the server's URL as webhook callers reach it
	// ("https://wasmflow.example.com"), for the webhook URLs the API shows;
	// empty shows paths only.
	PublicURL string
	// JWTKeys sign and verify the access tokens of user sessions. The
	// /api/v1/auth routes exist, and the API accepts a JWT besides an API
	// key, only when it is set.
	JWTKeys *auth.JWTKeys
}

// Server is the HTTP API. Create it with New, serve with Listen, stop with
// Shutdown. Its methods are safe for concurrent use.
type Server struct {
	store     store.Store
	logger    *slog.Logger
	version   string
	bodyLimit int
	readiness []ReadinessCheck
	registry  *registry.Registry
	engine    *engine.Engine
	vault     *vault.Keyring
	limits    TenantLimits
	rates     *rateBuckets // nil: no request limit
	logins    *rateBuckets // sign-in attempts, by email
	jwtKeys   *auth.JWTKeys
	// hookBodyLimit caps webhook bodies; publicURL prefixes webhook URLs.
	hookBodyLimit int
	publicURL     string
	secrets       *vault.Reader // reads webhook keys; nil without a Vault

	app   *fiber.App
	api   huma.API
	spec  []byte     // the OpenAPI document, rendered once all routes exist
	known routeTable // every route, for 405 answers

	// listeners are closed by Shutdown: fasthttp's own shutdown misses a
	// listener whose Serve has not started yet, which would then serve on.
	mu        sync.Mutex
	listeners []net.Listener
	shutdown  bool
}

// New builds the server and registers every route.
func New(cfg Config) (*Server, error) {
	return newServer(cfg, nil)
}

// newServer is New with a hook that registers extra operations before the
// catch-all route (tests add failing and panicking ones).
func newServer(cfg Config, extra func(*Server)) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: Config.Store is required")
	}
	if cfg.BodyLimit < 0 || cfg.WebhookBodyLimit < 0 {
		return nil, errors.New("api: Config.BodyLimit and WebhookBodyLimit must not be negative")
	}
	s := &Server{
		store:     cfg.Store,
		logger:    cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		version:   cmp.Or(cfg.Version, "dev"),
		bodyLimit: cmp.Or(cfg.BodyLimit, DefaultBodyLimit),
		registry:  cfg.Registry,
		engine:    cfg.Engine,
		vault:     cfg.Vault,
		limits:    cfg.Limits,
		rates: newRateBuckets(cfg.Limits.RequestsPerMinute,
			fmt.Sprintf("the tenant's limit of %d API requests a minute (webhooks count too) is used up", cfg.Limits.RequestsPerMinute)),
		logins:  newRateBuckets(loginAttemptsPerMinute, "too many sign-in attempts for this email"),
		jwtKeys: cfg.JWTKeys,

		hookBodyLimit: cmp.Or(cfg.WebhookBodyLimit, DefaultBodyLimit),
		publicURL:     strings.TrimRight(cfg.PublicURL, "/"),
	}
	if cfg.Vault != nil {
		s.secrets = &vault.Reader{Store: cfg.Store, Keys: cfg.Vault}
	}
	s.readiness = append([]ReadinessCheck{{Name: "store", CheckFunc: cfg.Store.Ping}}, cfg.Readiness...)
	for _, c := range s.readiness {
		if c.Name == "" || c.CheckFunc == nil {
			return nil, errors.New("api: a ReadinessCheck needs a Name and a CheckFunc")
		}
	}

	useProblems() // before any huma.Register: huma documents errors with NewError's type
	s.app = fiber.New(fiber.Config{
		// fasthttp's cap is a ceiling above every operation's own cap (huma's
		// MaxBodyBytes, set in finish). A body over an operation's cap is
		// read whole and answered 413 on a connection that stays usable;
		// fasthttp's own refusal answers 413 before reading the body and
		// closes the connection, so a client still sending it may see a
		// reset instead of the answer.
		BodyLimit:             bodyCeiling(max(s.bodyLimit, s.uploadBodyLimit(), s.hookBodyLimit)),
		ErrorHandler:          s.fiberError,
		DisableStartupMessage: true,
		// Multipart bodies (node uploads) reach the handler as the bytes
		// sent: fasthttp would otherwise parse them while reading (spilling
		// parts over 16 MiB to temporary files, answering its own 400 on a
		// malformed one) and re-encode them for the handler.
		DisablePreParseMultipartForm: true,
		// Strings from the context stay valid after the handler returns:
		// huma's adapter hands them out freely.
		Immutable:   true,
		ReadTimeout: cmp.Or(cfg.ReadTimeout, 30*time.Second),
		IdleTimeout: cmp.Or(cfg.IdleTimeout, 2*time.Minute),
	})
	s.app.Use(s.serveRequest)

	hc := huma.Config{
		OpenAPI: &huma.OpenAPI{
			OpenAPI: "3.1.0",
			Info: &huma.Info{
				Title:       "wasmflow",
				Version:     s.version,
				Description: "Workflow automation whose nodes are WebAssembly modules.",
			},
			Components: &huma.Components{
				Schemas: huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer),
				SecuritySchemes: map[string]*huma.SecurityScheme{
					securityScheme: {
						Type:        "http",
						Scheme:      "bearer",
						Description: "An API key (wf_…) or a session token: Authorization: Bearer <token>.",
					},
				},
			},
		},
		Formats:       map[string]huma.Format{"application/json": huma.DefaultJSONFormat, "json": huma.DefaultJSONFormat},
		DefaultFormat: "application/json",
		Transformers:  []huma.Transformer{problemTransformer},
		// No OpenAPIPath (huma renders its document lazily without a lock:
		// a data race under concurrent first requests), no docs UI, no
		// $schema links in bodies: the JSON shapes are the contract.
	}
	s.api = humafiber.New(s.app, hc)
	s.api.UseMiddleware(s.authorize, s.limitRate)

	s.registerRoutes()
	if extra != nil {
		extra(s)
	}

	spec, err := json.Marshal(s.api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("api: render openapi: %w", err)
	}
	s.spec = spec
	s.app.Add(http.MethodGet, openAPIPath, s.serveOpenAPI)
	if cfg.Metrics != nil {
		s.app.Add(http.MethodGet, metricsPath, adaptor.HTTPHandler(cfg.Metrics))
	}
	if s.engine != nil {
		s.registerWebhooks()
	}

	s.known = newRouteTable(s.app.GetRoutes(true))
	s.app.Use(s.notFoundOrMethod) // last: takes whatever no route did
	return s, nil
}

// registerRoutes registers every operation. A new resource adds its line here.
func (s *Server) registerRoutes() {
	s.registerHealth()
	s.registerWorkflows()
	s.registerNodes()
	s.registerSecrets()
	s.registerAudit()
	s.registerAPIKeys()
	s.registerMembers()
	s.registerSessions()
	s.registerTenants()
	s.registerPublishers()
	s.registerTrust()
	s.registerMarketplace()
	if s.engine != nil {
		s.registerExecutions()
		s.registerTriggers()
	}
}

// Listen serves HTTP on ln until Shutdown; it returns nil after a Shutdown,
// also when Shutdown came first.
func (s *Server) Listen(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	return s.app.Listener(ln)
}

// Shutdown stops accepting connections and waits, until ctx ends, for the
// requests in flight to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	listeners := s.listeners
	s.mu.Unlock()
	err := s.app.ShutdownWithContext(ctx)
	for _, ln := range listeners {
		_ = ln.Close() // already closed unless its Serve had not started
	}
	return err
}

// serveOpenAPI serves the OpenAPI document, rendered once in New. It needs no
// key: the document is what a client reads before it has one.
func (s *Server) serveOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(s.spec)
}

package api

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/time/rate"

	"github.com/wasmflow/wasmflow/auth"
)

// TenantLimits bound what each tenant may use. Zero fields do not limit.
type TenantLimits struct {
	// RequestsPerMinute caps a tenant's authenticated API requests, per API
	// process, with bursts of up to a minute's worth.
	RequestsPerMinute int
	// MaxSecrets caps the secrets a tenant stores.
	MaxSecrets int
}

// rateBuckets keeps one token bucket per key (a tenant, an email).
type rateBuckets struct {
	perMinute int
	mu        sync.Mutex
	buckets   map[string]*bucket
	swept     time.Time
}

type bucket struct {
	limiter *rate.Limiter
	used    time.Time
}

// idleBucket is how long a tenant's unused bucket is kept: after a minute
// idle it is full again, so forgetting it changes nothing.
const idleBucket = 2 * time.Minute

func newRateBuckets(perMinute int) *rateBuckets {
	if perMinute <= 0 {
		return nil
	}
	return &rateBuckets{perMinute: perMinute, buckets: map[string]*bucket{}}
}

// take spends one request of key's budget at now; when none is left it
// says how long until one is.
func (r *rateBuckets) take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.swept) > idleBucket {
		for id, b := range r.buckets {
			if now.Sub(b.used) > idleBucket {
				delete(r.buckets, id)
			}
		}
		r.swept = now
	}
	b, found := r.buckets[key]
	if !found {
		b = &bucket{limiter: rate.NewLimiter(rate.Limit(float64(r.perMinute)/60), r.perMinute)}
		r.buckets[key] = b
	}
	b.used = now
	res := b.limiter.ReserveN(now, 1)
	if delay := res.DelayFrom(now); delay > 0 {
		res.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// limitRate is the middleware after authorize that answers 429, with
// Retry-After, to a tenant over its requests per minute.
func (s *Server) limitRate(ctx huma.Context, next func(huma.Context)) {
	p, ok := auth.FromContext(ctx.Context())
	if s.rates == nil || !ok {
		next(ctx) // a public operation
		return
	}
	if ok, wait := s.rates.take(p.TenantID, time.Now()); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		s.writeProblem(ctx, newProblem(CodeRateLimited,
			fmt.Sprintf("the tenant's limit of %d API requests a minute is used up: retry in %d s", s.rates.perMinute, secs)).
			withHeader("Retry-After", strconv.Itoa(secs)))
		return
	}
	next(ctx)
}

// checkSecretQuota refuses a new secret once the tenant has MaxSecrets.
func (s *Server) checkSecretQuota(ctx context.Context, tenantID string) error {
	if s.limits.MaxSecrets <= 0 {
		return nil
	}
	n, err := s.store.SecretCount(ctx, tenantID)
	if err != nil {
		return err
	}
	if n >= s.limits.MaxSecrets {
		return newProblem(CodeQuotaExceeded, fmt.Sprintf("the tenant stores %d secrets, its limit: delete one or replace a value with PUT", n),
			FieldProblem{Location: "body.name", Message: "no room for another secret"})
	}
	return nil
}

// loginAttemptsPerMinute bounds the sign-in attempts for one email, per API
// process: each costs an argon2id verification (about 100 ms of a core), and
// guessing a password needs many.
const loginAttemptsPerMinute = 10

// limitLogin refuses a sign-in attempt for an email over its attempts a
// minute, before any password work.
func (s *Server) limitLogin(email string) error {
	if ok, wait := s.logins.take(email, time.Now()); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		return newProblem(CodeRateLimited, fmt.Sprintf("too many sign-in attempts for this email: retry in %d s", secs)).
			withHeader("Retry-After", strconv.Itoa(secs))
	}
	return nil
}

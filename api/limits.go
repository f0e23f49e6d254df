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
	// refusal says what a 429 refuses, before ": retry in N s".
	refusal string
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	limiter *rate.Limiter
	used    time.Time
}

// idleBucket is how long a tenant's unused bucket is kept: after a minute
// idle it is full again, so forgetting it changes nothing.
const idleBucket = 2 * time.Minute

// newRateBuckets allows each key perMinute requests a minute (nil: no
// limit); refusal is the start of the 429's detail.
func newRateBuckets(perMinute int, refusal string) *rateBuckets {
	if perMinute <= 0 {
		return nil
	}
	return &rateBuckets{perMinute: perMinute, refusal: refusal, buckets: map[string]*bucket{}}
}

// check spends one request of key's budget now: a 429 rate_limited problem
// with Retry-After when none is left, nil otherwise (and with no limit).
func (r *rateBuckets) check(key string) error {
	if r == nil {
		return nil
	}
	if ok, wait := r.take(key, time.Now()); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		return newProblem(CodeRateLimited, fmt.Sprintf("%s: retry in %d s", r.refusal, secs)).
			withHeader("Retry-After", strconv.Itoa(secs))
	}
	return nil
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
	if !ok {
		next(ctx) // a public operation
		return
	}
	if err := s.rates.check(p.TenantID); err != nil {
		s.writeProblem(ctx, err)
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
	return s.logins.check(email)
}

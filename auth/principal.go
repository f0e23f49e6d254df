package auth

import "context"

// Principal is an authenticated caller.
type Principal struct {
	// TenantID is the tenant every request of this caller acts in.
	TenantID string
	// KeyID is the id of the API key used; empty for a user's access token.
	KeyID string
	// UserID is the user of an access token; empty for an API key.
	UserID string
	// Role is the caller's role in the tenant (RoleOwner … RoleViewer).
	Role string
	// PlatformAdmin callers may manage tenants.
	PlatformAdmin bool
	// Actor names the caller in the audit log: "api_key:<id>" or "user:<id>".
	Actor string
}

type principalKey struct{}

// NewContext returns a copy of ctx carrying p; the API sets it once per request.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal NewContext stored in ctx, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

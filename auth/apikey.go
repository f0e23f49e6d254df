package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/wasmflow/wasmflow/store"
)

// ErrUnauthenticated is returned for a missing, malformed, unknown, revoked or
// expired key. Callers must not tell these cases apart to the client.
var ErrUnauthenticated = errors.New("auth: unauthenticated")

// API key format: "wf_" then 32 random bytes as exactly 43 base62 digits.
const (
	APIKeyPrefix = "wf_"
	keyDigits    = 43 // 62^43 > 2^256
	apiKeyLen    = len(APIKeyPrefix) + keyDigits
	// displayPrefixLen is how much of a key listings show ("wf_" + 8 digits).
	displayPrefixLen = len(APIKeyPrefix) + 8
)

// NewAPIKey returns a new random key, the prefix listings show, and the hash
// the store keeps. The key itself must be shown once and then forgotten.
func NewAPIKey() (key, prefix string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	digits := new(big.Int).SetBytes(b[:]).Text(62)
	key = APIKeyPrefix + strings.Repeat("0", keyDigits-len(digits)) + digits
	return key, key[:displayPrefixLen], HashAPIKey(key)
}

// HashAPIKey returns the SHA-256 of key. Keys carry 256 random bits, so a
// fast unsalted hash cannot be brute-forced and lets the store index it.
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// wellFormed reports whether key has the shape NewAPIKey produces, so garbage
// is refused without a store round trip.
func wellFormed(key string) bool {
	if len(key) != apiKeyLen || !strings.HasPrefix(key, APIKeyPrefix) {
		return false
	}
	for i := len(APIKeyPrefix); i < len(key); i++ {
		if !isBase62(key[i]) {
			return false
		}
	}
	return true
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// KeyFinder is the part of the store Authenticate needs; store.APIKeys has it.
type KeyFinder interface {
	APIKeyGetByHash(ctx context.Context, hash []byte) (*store.APIKey, error)
}

// Authenticate resolves a bearer token (the key, without "Bearer ") to its
// principal. It returns ErrUnauthenticated for a malformed, unknown, revoked or
// expired key, and a wrapped store error when the store cannot answer, which
// callers must report as a server error rather than a refusal.
func Authenticate(ctx context.Context, keys KeyFinder, bearer string) (*Principal, error) {
	if !wellFormed(bearer) {
		return nil, ErrUnauthenticated
	}
	hash := HashAPIKey(bearer)
	k, err := keys.APIKeyGetByHash(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrUnauthenticated
	case err != nil:
		return nil, fmt.Errorf("auth: look up api key: %w", err)
	}
	// The lookup matched on the hash already; compare again in constant time
	// so a backend that matched loosely (a prefix, a collation) cannot let a
	// different key in.
	if subtle.ConstantTimeCompare(k.Hash, hash) != 1 {
		return nil, ErrUnauthenticated
	}
	if k.RevokedAt != nil || (k.ExpiresAt != nil && !time.Now().Before(*k.ExpiresAt)) {
		return nil, ErrUnauthenticated
	}
	return &Principal{
		TenantID:      k.TenantID,
		KeyID:         k.ID,
		Role:          k.Role,
		PlatformAdmin: k.PlatformAdmin,
		Actor:         "api_key:" + k.ID,
	}, nil
}

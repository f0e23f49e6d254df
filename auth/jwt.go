package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWT settings shared by the issuer and the verifier.
const (
	// JWTIssuer is the iss claim of every access token.
	JWTIssuer = "wasmflow"
	// JWTAudience is the aud claim: the API.
	JWTAudience = "wasmflow-api"
	// AccessTokenTTL is how long an access token is valid.
	AccessTokenTTL = 15 * time.Minute
	// EnvJWTKeys names the environment variable that holds the signing keys
	// (the key file's format, lines or commas), instead of the key file.
	EnvJWTKeys = "WASMFLOW_JWT_KEYS"
	// JWTKeyFileName is the key file's name in the data directory.
	JWTKeyFileName = "jwt-keys"
	// jwtLeeway tolerates clock skew between api processes.
	jwtLeeway = 30 * time.Second
)

// AccessClaims are the claims of an access token: who (sub, the user id),
// where (tenant) and as what (role).
type AccessClaims struct {
	Tenant string `json:"tenant"`
	Role   string `json:"role"`
	jwt.RegisteredClaims
}

// JWTKeys is a keyring of Ed25519 signing keys: the first signs, every one
// verifies, each known by its key id (kid). It is safe for concurrent use.
type JWTKeys struct {
	current jwtKey
	public  map[string]ed25519.PublicKey
}

type jwtKey struct {
	id   string
	priv ed25519.PrivateKey
}

// ParseJWTKeys reads keys from text: base64 Ed25519 seeds (32 bytes), one per
// line or separated by commas, the current one first; blank lines and lines
// starting with '#' are skipped. Rotating means putting a new seed first and
// keeping the old ones at least AccessTokenTTL, so issued tokens still verify.
func ParseJWTKeys(text string) (*JWTKeys, error) {
	k := &JWTKeys{public: map[string]ed25519.PublicKey{}}
	var fields []string
	for line := range strings.Lines(text) {
		if line = strings.TrimSpace(line); !strings.HasPrefix(line, "#") {
			fields = append(fields, strings.Split(line, ",")...)
		}
	}
	for _, f := range fields {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		seed, err := base64.StdEncoding.DecodeString(f)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("auth: jwt key %d: want base64 of %d bytes", len(k.public)+1, ed25519.SeedSize)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		pub, _ := priv.Public().(ed25519.PublicKey)
		id := keyID(pub)
		if len(k.public) == 0 {
			k.current = jwtKey{id: id, priv: priv}
		}
		k.public[id] = pub
	}
	if len(k.public) == 0 {
		return nil, errors.New("auth: no jwt key")
	}
	return k, nil
}

// keyID names a public key: 12 bytes of its SHA-256, base64url.
func keyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// NewJWTSeed returns a new random key in the form ParseJWTKeys reads.
func NewJWTSeed() string {
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed) // crypto/rand.Read never fails (Go 1.24+)
	return base64.StdEncoding.EncodeToString(seed)
}

// LoadJWTKeys finds the signing keys: EnvJWTKeys when set (source "env"),
// else the file <dataDir>/jwt-keys, created with one new key (0600) when
// create is true and it does not exist. A key file that others may read is
// refused.
func LoadJWTKeys(dataDir string, create bool, lookup func(string) (string, bool)) (k *JWTKeys, source string, err error) {
	if v, ok := lookup(EnvJWTKeys); ok && strings.TrimSpace(v) != "" {
		k, err := ParseJWTKeys(v)
		return k, "env", err
	}
	path := dataDir + string(os.PathSeparator) + JWTKeyFileName
	data, err := os.ReadFile(path) //nolint:gosec // the operator chooses the data dir
	if errors.Is(err, fs.ErrNotExist) && create {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // as above
		if err != nil {
			return nil, "", fmt.Errorf("auth: create jwt key file: %w", err)
		}
		seed := NewJWTSeed()
		_, werr := f.WriteString("# wasmflow JWT signing keys: the first signs, all verify.\n" + seed + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, "", fmt.Errorf("auth: write jwt key file: %w", werr)
		}
		k, err := ParseJWTKeys(seed)
		return k, path, err
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: read jwt key file: %w", err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("auth: jwt key file %s is readable by others (mode %v): chmod 600 it", path, info.Mode().Perm())
	}
	k, err = ParseJWTKeys(string(data))
	return k, path, err
}

// CurrentID is the key id new tokens are signed with.
func (k *JWTKeys) CurrentID() string { return k.current.id }

// Issue signs an access token for the user's membership in tenant with
// role, valid from now for AccessTokenTTL.
func (k *JWTKeys) Issue(userID, tenantID, role string, now time.Time) (string, error) {
	claims := AccessClaims{
		Tenant: tenantID,
		Role:   role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    JWTIssuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{JWTAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTokenTTL)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = k.current.id
	s, err := t.SignedString(k.current.priv)
	if err != nil {
		return "", fmt.Errorf("auth: sign access token: %w", err)
	}
	return s, nil
}

// Verify checks an access token: EdDSA only (alg none and HMAC are refused
// whatever the header says), a kid of this keyring, the signature, iss,
// aud, exp, nbf and iat (with 30 s of leeway), and a subject, tenant and
// known role. Every failure is ErrUnauthenticated.
func (k *JWTKeys) Verify(token string, now time.Time) (*AccessClaims, error) {
	var claims AccessClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, ok := k.public[kid]
		if !ok {
			return nil, errors.New("unknown kid")
		}
		return pub, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(JWTIssuer),
		jwt.WithAudience(JWTAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(jwtLeeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	if claims.NotBefore == nil || claims.Subject == "" || claims.Tenant == "" || !ValidRole(claims.Role) {
		return nil, ErrUnauthenticated
	}
	return &claims, nil
}

// LooksLikeJWT reports whether a bearer token has a JWT's shape (three
// dot-separated parts) rather than an API key's.
func LooksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2 && !strings.HasPrefix(token, APIKeyPrefix)
}

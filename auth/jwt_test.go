package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func newJWTKeys(t *testing.T, seeds ...string) *JWTKeys {
	t.Helper()
	if len(seeds) == 0 {
		seeds = []string{NewJWTSeed()}
	}
	k, err := ParseJWTKeys(strings.Join(seeds, "\n"))
	require.NoError(t, err)
	return k
}

func TestJWTIssueVerify(t *testing.T) {
	t.Parallel()
	k := newJWTKeys(t)
	now := time.Now()
	tok, err := k.Issue("us_1", "tn_1", RoleEditor, now)
	require.NoError(t, err)
	require.True(t, LooksLikeJWT(tok))
	require.False(t, LooksLikeJWT("wf_abc"))

	c, err := k.Verify(tok, now)
	require.NoError(t, err)
	require.Equal(t, "us_1", c.Subject)
	require.Equal(t, "tn_1", c.Tenant)
	require.Equal(t, RoleEditor, c.Role)
	require.Equal(t, JWTIssuer, c.Issuer)
	require.Equal(t, jwt.ClaimStrings{JWTAudience}, c.Audience)
	require.NotEmpty(t, c.ID)
	require.WithinDuration(t, now.Add(AccessTokenTTL), c.ExpiresAt.Time, time.Second)

	header := decodePart(t, tok, 0)
	require.Equal(t, "EdDSA", header["alg"])
	require.Equal(t, k.CurrentID(), header["kid"])

	other, err := k.Issue("us_1", "tn_1", RoleEditor, now)
	require.NoError(t, err)
	require.NotEqual(t, tok, other, "each token has its own jti")
}

func TestJWTRotation(t *testing.T) {
	t.Parallel()
	oldSeed, newSeed := NewJWTSeed(), NewJWTSeed()
	before := newJWTKeys(t, oldSeed)
	tok, err := before.Issue("us_1", "tn_1", RoleViewer, time.Now())
	require.NoError(t, err)

	after := newJWTKeys(t, newSeed, oldSeed)
	require.NotEqual(t, before.CurrentID(), after.CurrentID())
	_, err = after.Verify(tok, time.Now())
	require.NoError(t, err, "the previous key still verifies")
	fresh, err := after.Issue("us_1", "tn_1", RoleViewer, time.Now())
	require.NoError(t, err)
	require.Equal(t, after.CurrentID(), decodePart(t, fresh, 0)["kid"])

	dropped := newJWTKeys(t, newSeed)
	_, err = dropped.Verify(tok, time.Now())
	require.ErrorIs(t, err, ErrUnauthenticated, "a removed key no longer verifies")
}

// TestJWTAttacks: every forged, altered or out-of-date token is refused.
func TestJWTAttacks(t *testing.T) {
	t.Parallel()
	seed := NewJWTSeed()
	k := newJWTKeys(t, seed)
	raw, err := base64.StdEncoding.DecodeString(seed)
	require.NoError(t, err)
	priv := ed25519.NewKeyFromSeed(raw)
	pub, _ := priv.Public().(ed25519.PublicKey)
	now := time.Now()

	claims := func(mod func(*AccessClaims)) *AccessClaims {
		c := &AccessClaims{Tenant: "tn_1", Role: RoleOwner, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: JWTIssuer, Subject: "us_1", Audience: jwt.ClaimStrings{JWTAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), NotBefore: jwt.NewNumericDate(now),
			IssuedAt: jwt.NewNumericDate(now), ID: "j",
		}}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(c *AccessClaims, kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(priv)
		require.NoError(t, err)
		return s
	}
	good := sign(claims(nil), k.CurrentID())
	_, err = k.Verify(good, now)
	require.NoError(t, err, "the control token verifies")

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
	hs.Header["kid"] = k.CurrentID()
	hsPub, err := hs.SignedString([]byte(pub)) // the public key as an HMAC secret
	require.NoError(t, err)
	otherKeys := newJWTKeys(t)
	foreign, err := otherKeys.Issue("us_1", "tn_1", RoleOwner, now)
	require.NoError(t, err)
	parts := strings.Split(good, ".")
	payload := decodePart(t, good, 1)
	payload["role"] = "owner"
	payload["tenant"] = "tn_2"
	altered, err := json.Marshal(payload)
	require.NoError(t, err)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(altered) + "." + parts[2]

	cases := map[string]string{
		"alg none":               none,
		"HS256 with the pub key": hsPub,
		"unknown kid":            foreign,
		"no kid":                 sign(claims(nil), ""),
		"kid of another key":     sign(claims(nil), otherKeys.CurrentID()),
		"expired":                sign(claims(func(c *AccessClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) }), k.CurrentID()),
		"no exp":                 sign(claims(func(c *AccessClaims) { c.ExpiresAt = nil }), k.CurrentID()),
		"not yet valid":          sign(claims(func(c *AccessClaims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Minute)) }), k.CurrentID()),
		"no nbf":                 sign(claims(func(c *AccessClaims) { c.NotBefore = nil }), k.CurrentID()),
		"issued in the future":   sign(claims(func(c *AccessClaims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) }), k.CurrentID()),
		"wrong audience":         sign(claims(func(c *AccessClaims) { c.Audience = jwt.ClaimStrings{"other"} }), k.CurrentID()),
		"wrong issuer":           sign(claims(func(c *AccessClaims) { c.Issuer = "evil" }), k.CurrentID()),
		"no subject":             sign(claims(func(c *AccessClaims) { c.Subject = "" }), k.CurrentID()),
		"no tenant":              sign(claims(func(c *AccessClaims) { c.Tenant = "" }), k.CurrentID()),
		"unknown role":           sign(claims(func(c *AccessClaims) { c.Role = "root" }), k.CurrentID()),
		"tampered payload":       tampered,
		"garbage":                "a.b.c",
		"empty":                  "",
	}
	for name, tok := range cases {
		_, err := k.Verify(tok, now)
		require.ErrorIs(t, err, ErrUnauthenticated, name)
	}
}

func TestParseJWTKeysRefuses(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "# only a comment\n", "not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, err := ParseJWTKeys(text)
		require.Error(t, err, text)
	}
	k, err := ParseJWTKeys(NewJWTSeed() + "," + NewJWTSeed())
	require.NoError(t, err)
	require.Len(t, k.public, 2)
}

func TestLoadJWTKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noEnv := func(string) (string, bool) { return "", false }

	_, _, err := LoadJWTKeys(dir, false, noEnv)
	require.Error(t, err, "no file and not allowed to create one")

	k, source, err := LoadJWTKeys(dir, true, noEnv)
	require.NoError(t, err)
	path := filepath.Join(dir, JWTKeyFileName)
	require.Equal(t, path, source)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again, _, err := LoadJWTKeys(dir, true, noEnv)
	require.NoError(t, err)
	require.Equal(t, k.CurrentID(), again.CurrentID(), "the file is kept")

	require.NoError(t, os.Chmod(path, 0o644))
	_, _, err = LoadJWTKeys(dir, true, noEnv)
	require.ErrorContains(t, err, "readable by others")

	seed := NewJWTSeed()
	fromEnv, source, err := LoadJWTKeys(dir, true, func(name string) (string, bool) { return seed, name == EnvJWTKeys })
	require.NoError(t, err)
	require.Equal(t, "env", source)
	require.NotEqual(t, k.CurrentID(), fromEnv.CurrentID())
}

func decodePart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	data, err := base64.RawURLEncoding.DecodeString(parts[i])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

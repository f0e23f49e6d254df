package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of new password hashes (RFC 9106's second
// recommended option, with a 64 MiB memory cost: see RATIONALE.md). A hash
// records its own parameters, so raising them later leaves old hashes
// verifiable.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	argonSaltLen = 16
	argonKeyLen  = 32

	// MinPasswordLen and MaxPasswordLen bound the passwords HashPassword accepts.
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// Limits on the parameters VerifyPassword accepts from a stored hash, so a
// tampered row cannot make a login cost gigabytes or minutes.
const (
	maxArgonTime    = 10
	maxArgonMemory  = 1024 * 1024 // 1 GiB
	maxArgonThreads = 16
)

// ErrPasswordLength is returned by HashPassword for a password shorter than
// MinPasswordLen or longer than MaxPasswordLen bytes.
var ErrPasswordLength = fmt.Errorf("auth: a password has %d to %d bytes", MinPasswordLen, MaxPasswordLen)

var errBadHash = errors.New("auth: not an argon2id hash")

// HashPassword returns password's argon2id hash in PHC string form,
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash> (unpadded base64), with a new
// random salt. It takes about 100 ms and 64 MiB.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return "", ErrPasswordLength
	}
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches encoded, a hash from
// HashPassword, comparing in constant time. It returns an error only for an
// encoded value that is not a well-formed argon2id hash within limits.
func VerifyPassword(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil {
		return false, errBadHash
	}
	if time < 1 || time > maxArgonTime || threads < 1 || threads > maxArgonThreads ||
		memory < 8*uint32(threads) || memory > maxArgonMemory {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	if len(password) > MaxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, time, memory, threads, uint32(len(want))) //nolint:gosec // G115: len checked ≤ 64
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when a login names an unknown email, so
// that the answer takes as long as for a wrong password. Computed on first
// use, not at start: commands that never verify a password pay nothing.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not-a-password-anyone-has")
	return h
})

// SpendPasswordTime verifies password against a fixed hash and discards the
// result: callers run it when there is no user to check, so that an unknown
// email and a wrong password cost the same time.
func SpendPasswordTime(password string) {
	_, _ = VerifyPassword(password, dummyHash())
}

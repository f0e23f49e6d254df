package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPasswordHashVerify(t *testing.T) {
	t.Parallel()
	const pw = "correct horse battery staple"
	h, err := HashPassword(pw)
	require.NoError(t, err)
	require.Regexp(t, `^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`, h)
	ok, err := VerifyPassword(pw, h)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = VerifyPassword(pw+"!", h)
	require.NoError(t, err)
	require.False(t, ok)

	again, err := HashPassword(pw)
	require.NoError(t, err)
	require.NotEqual(t, h, again, "a new salt each time")
}

func TestPasswordLength(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"", "short", strings.Repeat("a", MinPasswordLen-1), strings.Repeat("a", MaxPasswordLen+1)} {
		_, err := HashPassword(pw)
		require.ErrorIs(t, err, ErrPasswordLength, "len %d", len(pw))
	}
}

func TestVerifyPasswordRefusesBadHashes(t *testing.T) {
	t.Parallel()
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	for _, h := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=65536,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=16$m=65536,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=4194304,t=3,p=2$" + salt + "$" + key, // 4 GiB
		"$argon2id$v=19$m=65536,t=1000,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=0,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=3,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=3,p=2$!!$" + key,
		"$argon2id$v=19$m=65536,t=3,p=2$" + salt + "$a2V5",
		"$argon2id$v=19$m=65536,t=3,p=2$" + salt + "$" + key + "$extra",
	} {
		ok, err := VerifyPassword("whatever-password", h)
		require.Error(t, err, h)
		require.False(t, ok)
	}
}

func TestSpendPasswordTime(t *testing.T) {
	t.Parallel()
	SpendPasswordTime("anything at all")
	ok, err := VerifyPassword("not-a-password-anyone-has", dummyHash())
	require.NoError(t, err)
	require.True(t, ok)
}

package hostfuncs_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/hostfuncs"
)

func TestSecretGet(t *testing.T) {
	t.Parallel()
	var asked []string
	f := hostfuncs.SecretGet(hostfuncs.SecretConfig{Read: func(_ context.Context, name string) (string, error) {
		asked = append(asked, name)
		switch name {
		case "token":
			return "s3cret", nil
		case "broken":
			return "", errors.New("store down")
		}
		return "", &hostfuncs.SecretError{Name: name, Reason: "not declared by the module"}
	}})
	require.Equal(t, hostfuncs.SecretGetName, f.Name)

	out, err := f.Call(context.Background(), []byte("token"))
	require.NoError(t, err)
	require.Equal(t, "s3cret", string(out))

	_, err = f.Call(context.Background(), []byte("other"))
	require.ErrorIs(t, err, hostfuncs.ErrSecretNotGranted)
	require.EqualError(t, err, `secret "other": not declared by the module`)

	// A store failure is not a refusal: the run fails as a host error.
	_, err = f.Call(context.Background(), []byte("broken"))
	require.Error(t, err)
	require.NotErrorIs(t, err, hostfuncs.ErrSecretNotGranted)
	require.Equal(t, []string{"token", "other", "broken"}, asked)

	// Names the reader never sees.
	for _, in := range [][]byte{nil, []byte(strings.Repeat("n", 300)), {0xff, 0xfe}} {
		_, err := f.Call(context.Background(), in)
		require.ErrorIs(t, err, hostfuncs.ErrSecretNotGranted)
	}
	require.Len(t, asked, 3)

	// Without a reader the run may read nothing.
	_, err = hostfuncs.SecretGet(hostfuncs.SecretConfig{}).Call(context.Background(), []byte("token"))
	require.ErrorIs(t, err, hostfuncs.ErrSecretNotGranted)
}

func FuzzSecretGet(f *testing.F) {
	for _, seed := range []string{"", "token", "a\x00b", "\xff", strings.Repeat("x", 257)} {
		f.Add([]byte(seed))
	}
	fn := hostfuncs.SecretGet(hostfuncs.SecretConfig{Read: func(_ context.Context, name string) (string, error) {
		if name == "token" {
			return "v", nil
		}
		return "", &hostfuncs.SecretError{Name: name, Reason: "not bound"}
	}})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := fn.Call(context.Background(), in)
		if string(in) == "token" {
			if err != nil || string(out) != "v" {
				t.Fatalf("token: %q, %v", out, err)
			}
			return
		}
		if !errors.Is(err, hostfuncs.ErrSecretNotGranted) {
			t.Fatalf("%q: want a refusal, got %q, %v", in, out, err)
		}
	})
}

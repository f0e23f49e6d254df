package hostfuncs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// SecretGetName is the import name of the secrets host function in extism:host/user.
const SecretGetName = "wasmflow_secret_get"

// maxSecretNameBytes bounds the name a guest may ask for; declared names are
// far shorter (the manifest schema allows 64 bytes).
const maxSecretNameBytes = 256

// ErrSecretNotGranted is the cause of every refused secret read: the name is
// not declared, not bound, or bound to a secret the tenant does not have.
// The runtime fails the node run with kind secret_not_granted for it.
var ErrSecretNotGranted = errors.New("secret not granted")

// SecretError is a refused read: it wraps [ErrSecretNotGranted] and says
// which name, and why, without the value.
type SecretError struct {
	Name   string
	Reason string
}

func (e *SecretError) Error() string {
	return fmt.Sprintf("secret %s: %s", strconv.Quote(e.Name), e.Reason)
}

// Unwrap makes errors.Is(err, ErrSecretNotGranted) hold.
func (e *SecretError) Unwrap() error { return ErrSecretNotGranted }

// SecretConfig configures the wasmflow_secret_get function of one node run.
type SecretConfig struct {
	// Read returns the value of the secret the run knows as name (the name
	// the manifest declares). It decides what is granted: it returns a
	// *SecretError for a name the run may not read, any other error when the
	// store fails. It should audit the read before it returns the value.
	Read func(ctx context.Context, name string) (string, error)
}

// SecretGet returns the wasmflow_secret_get host function of one node run.
//
// Input: the declared name, as UTF-8 text. Reply: the value, as bytes. Any
// refusal fails the run: a guest that asks for a secret it was not given is
// misconfigured or hostile, and either way should stop, not carry on without it.
func SecretGet(cfg SecretConfig) Func {
	return Func{Name: SecretGetName, Call: func(ctx context.Context, in []byte) ([]byte, error) {
		name := string(in)
		switch {
		case len(in) == 0:
			return nil, &SecretError{Reason: "no name given"}
		case len(in) > maxSecretNameBytes:
			return nil, &SecretError{Name: name[:32] + "…", Reason: fmt.Sprintf("the name is longer than %d bytes", maxSecretNameBytes)}
		case !utf8.Valid(in):
			return nil, &SecretError{Name: strconv.QuoteToASCII(name), Reason: "the name is not UTF-8"}
		case cfg.Read == nil:
			return nil, &SecretError{Name: name, Reason: "this run may read no secrets"}
		}
		value, err := cfg.Read(ctx, name)
		if err != nil {
			return nil, err
		}
		return []byte(value), nil
	}}
}

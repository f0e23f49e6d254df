package signing_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry/signing"
)

var (
	wasm     = []byte("\x00asm\x01\x00\x00\x00")
	manifest = []byte(`{"name": "acme/slack-post", "version": "1.2.0", "capabilities": {"http": {"hosts": ["hooks.slack.com"]}}}`)
	subject  = signing.Subject{Name: "acme/slack-post", Version: "1.2.0", Wasm: wasm, Manifest: manifest}
	at       = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
)

func newKey(t *testing.T, publisher string) *signing.PrivateKey {
	t.Helper()
	k, err := signing.GenerateKey(publisher)
	require.NoError(t, err)
	return k
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := newKey(t, "acme")
	env, err := k.Sign(subject, at.Add(123*time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, at, env.Statement.SignedAt, "signed_at keeps whole seconds")

	parsed, err := signing.ParseEnvelope(env.Marshal())
	require.NoError(t, err)
	require.NoError(t, parsed.Verify(k.Public()))
	require.NoError(t, parsed.Statement.Matches(subject))

	// Reformatting the manifest keeps the signature valid.
	reformatted := []byte("{\n  \"capabilities\": {\"http\": {\"hosts\": [\"hooks.slack.com\"]}},\n  \"version\": \"1.2.0\",\n  \"name\": \"acme/slack-post\"\n}\n")
	sub := subject
	sub.Manifest = reformatted
	require.NoError(t, parsed.Statement.Matches(sub))
}

func TestVerifyRefuses(t *testing.T) {
	k := newKey(t, "acme")
	env, err := k.Sign(subject, at)
	require.NoError(t, err)

	other := newKey(t, "acme")
	require.ErrorIs(t, env.Verify(other.Public()), signing.ErrInvalid, "another key")
	require.ErrorContains(t, env.Verify(other.Public()[:10]), "public key has 10 bytes")

	cases := map[string]func(e *signing.Envelope){
		"version moved": func(e *signing.Envelope) { e.Statement.Version = "1.3.0" },
		"name moved":    func(e *signing.Envelope) { e.Statement.Name = "acme/other" },
		"wasm swapped":  func(e *signing.Envelope) { e.Statement.WasmSHA256 = signing.SHA256Hex([]byte("x")) },
		"time moved":    func(e *signing.Envelope) { e.Statement.SignedAt = e.Statement.SignedAt.Add(time.Hour) },
		"signature bit": func(e *signing.Envelope) {
			sig, _ := base64.StdEncoding.DecodeString(e.Signature)
			sig[0] ^= 1
			e.Signature = base64.StdEncoding.EncodeToString(sig)
		},
		"signature not base64": func(e *signing.Envelope) { e.Signature = "!!" },
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			e := *env
			tamper(&e)
			require.ErrorIs(t, e.Verify(k.Public()), signing.ErrInvalid)
		})
	}
}

func TestMatchesNamesTheDifference(t *testing.T) {
	k := newKey(t, "acme")
	env, err := k.Sign(subject, at)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		change func(s *signing.Subject)
		want   string
	}{
		{"name", func(s *signing.Subject) { s.Name = "acme/other" }, `is for "acme/slack-post", not "acme/other"`},
		{"version", func(s *signing.Subject) { s.Version = "1.2.1" }, "version 1.2.0, not 1.2.1"},
		{"wasm", func(s *signing.Subject) { s.Wasm = append([]byte{}, append(wasm, 0)...) }, "wasm bytes differ"},
		{"wider manifest", func(s *signing.Subject) {
			s.Manifest = []byte(`{"name": "acme/slack-post", "version": "1.2.0", "capabilities": {"http": {"hosts": ["*"]}}}`)
		}, "manifest differs"},
		{"broken manifest", func(s *signing.Subject) { s.Manifest = []byte(`{`) }, "manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := subject
			tc.change(&sub)
			err := env.Statement.Matches(sub)
			require.ErrorIs(t, err, signing.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestStatementCheck(t *testing.T) {
	k := newKey(t, "acme")
	_, err := signing.NewStatement("acme", k.KeyID, signing.Subject{Name: "other/x", Version: "1.0.0", Wasm: wasm, Manifest: manifest}, at)
	require.ErrorContains(t, err, `outside publisher "acme"'s namespace`)

	good, err := signing.NewStatement("acme", k.KeyID, subject, at)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		change func(s *signing.Statement)
		want   string
	}{
		"publisher": {func(s *signing.Statement) { s.Publisher = "Acme" }, "statement.publisher"},
		"name":      {func(s *signing.Statement) { s.Name = "acme" }, "statement.name"},
		"name part": {func(s *signing.Statement) { s.Name = "acme/Bad" }, "statement.name"},
		"version":   {func(s *signing.Statement) { s.Version = "" }, "statement.version"},
		"wasm":      {func(s *signing.Statement) { s.WasmSHA256 = "ABC" }, "statement.wasm_sha256"},
		"manifest":  {func(s *signing.Statement) { s.ManifestSHA256 = "" }, "statement.manifest_sha256"},
		"key":       {func(s *signing.Statement) { s.KeyID = "rsa:1" }, "statement.key_id"},
		"time":      {func(s *signing.Statement) { s.SignedAt = time.Time{} }, "statement.signed_at"},
	} {
		t.Run(name, func(t *testing.T) {
			s := *good
			tc.change(&s)
			require.ErrorContains(t, s.Check(), tc.want)
		})
	}
}

func TestStatementBytesAreCanonical(t *testing.T) {
	s := signing.Statement{
		Publisher: "acme", Name: "acme/x", Version: "1.0.0",
		WasmSHA256: strings.Repeat("a", 64), ManifestSHA256: strings.Repeat("b", 64),
		KeyID: "ed25519:0123456789abcdef", SignedAt: at.In(time.FixedZone("x", 3600)),
	}
	want := "wasmflow-module-signature-v1\n" +
		`{"key_id":"ed25519:0123456789abcdef","manifest_sha256":"` + strings.Repeat("b", 64) +
		`","name":"acme/x","publisher":"acme","signed_at":"2026-11-26T08:00:00Z","version":"1.0.0","wasm_sha256":"` +
		strings.Repeat("a", 64) + `"}`
	require.Equal(t, want, string(s.Bytes()))
}

func TestParseEnvelopeRefuses(t *testing.T) {
	k := newKey(t, "acme")
	env, err := k.Sign(subject, at)
	require.NoError(t, err)
	good := env.Marshal()

	var doc map[string]any
	require.NoError(t, json.Unmarshal(good, &doc))
	withField := func(key string, value any) []byte {
		d := map[string]any{}
		for k, v := range doc {
			d[k] = v
		}
		d[key] = value
		b, _ := json.Marshal(d)
		return b
	}
	for name, tc := range map[string]struct {
		doc  []byte
		want string
	}{
		"not json":       {[]byte("sig"), "not valid"},
		"unknown field":  {withField("extra", 1), "unknown field"},
		"trailing":       {append(append([]byte{}, good...), []byte("{}")...), "data after"},
		"short sig":      {withField("signature", base64.StdEncoding.EncodeToString([]byte("short"))), "not a base64 Ed25519"},
		"bad statement":  {withField("statement", map[string]any{"publisher": "acme"}), "statement.name"},
		"over the limit": {append(good, make([]byte, signing.MaxEnvelopeBytes)...), "over"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := signing.ParseEnvelope(tc.doc)
			require.ErrorIs(t, err, signing.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		`{"b": [1, 2.50, {"d": null, "c": true}], "a": "x\u00e9<"}`: `{"a":"xé\u003c","b":[1,2.50,{"c":true,"d":null}]}`,
		` 12345678901234567890 `:                                    `12345678901234567890`,
		`[ ]`:                                                       `[]`,
		`{ }`:                                                       `{}`,
	} {
		got, err := signing.Canonical([]byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, string(got), in)
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `{"a":1} {}`, `{`, `[1,]`, ``} {
		_, err := signing.Canonical([]byte(bad))
		require.ErrorIs(t, err, signing.ErrInvalid, bad)
	}
}

func TestKeyFiles(t *testing.T) {
	k := newKey(t, "acme")
	parsed, err := signing.ParsePrivateKey(k.Marshal())
	require.NoError(t, err)
	require.Equal(t, k.KeyID, parsed.KeyID)
	require.Equal(t, k.Public(), parsed.Public())
	require.Regexp(t, `^ed25519:[0-9a-f]{16}$`, k.KeyID)

	pub := k.PublicFile()
	decoded, err := signing.ParsePublicKey(pub.PublicKey)
	require.NoError(t, err)
	require.Equal(t, k.Public(), decoded)

	_, err = signing.GenerateKey("Not A Publisher")
	require.ErrorIs(t, err, signing.ErrInvalid)
	for name, doc := range map[string]string{
		"not json":  `x`,
		"bad seed":  `{"publisher":"acme","key_id":"` + k.KeyID + `","private_key":"c2hvcnQ="}`,
		"wrong id":  `{"publisher":"acme","key_id":"ed25519:0000000000000000","private_key":"` + k.Seed + `"}`,
		"bad owner": `{"publisher":"ACME","key_id":"` + k.KeyID + `","private_key":"` + k.Seed + `"}`,
		"unknown":   `{"publisher":"acme","key_id":"` + k.KeyID + `","private_key":"` + k.Seed + `","x":1}`,
	} {
		_, err := signing.ParsePrivateKey([]byte(doc))
		require.ErrorIs(t, err, signing.ErrInvalid, name)
	}
	_, err = signing.ParsePublicKey("AAAA")
	require.ErrorIs(t, err, signing.ErrInvalid)
}

func TestProofOfPossession(t *testing.T) {
	k := newKey(t, "acme")
	proof := k.Prove()
	require.NoError(t, signing.VerifyProof("acme", k.Public(), proof))
	require.Error(t, signing.VerifyProof("other", k.Public(), proof), "a proof is bound to its publisher")
	require.Error(t, signing.VerifyProof("acme", newKey(t, "acme").Public(), proof), "and to its key")
	require.Error(t, signing.VerifyProof("acme", k.Public(), "!!"))

	// A module signature can never pass as a proof, nor a proof as a module signature.
	env, err := k.Sign(subject, at)
	require.NoError(t, err)
	require.Error(t, signing.VerifyProof("acme", k.Public(), env.Signature))
	forged := *env
	forged.Signature = proof
	require.Error(t, forged.Verify(k.Public()))
	require.True(t, errors.Is(forged.Verify(k.Public()), signing.ErrInvalid))
}

func FuzzParseEnvelope(f *testing.F) {
	k, _ := signing.GenerateKey("acme")
	env, _ := k.Sign(subject, at)
	f.Add(env.Marshal())
	f.Add([]byte(`{"statement":{},"signature":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := signing.ParseEnvelope(b)
		if err != nil {
			require.ErrorIs(t, err, signing.ErrInvalid)
			return
		}
		require.NoError(t, e.Statement.Check())
		again, err := signing.ParseEnvelope(e.Marshal())
		require.NoError(t, err, "a parsed envelope encodes to one that parses")
		require.Equal(t, e.Statement.Bytes(), again.Statement.Bytes())
	})
}

func FuzzCanonical(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":[true,null,"x"]}`))
	f.Add(manifest)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := signing.Canonical(b)
		if err != nil {
			return
		}
		require.True(t, json.Valid(c), "canonical output is JSON")
		again, err := signing.Canonical(c)
		require.NoError(t, err)
		require.Equal(t, c, again, "canonical form is a fixed point")
	})
}

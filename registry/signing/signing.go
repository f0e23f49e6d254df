// Package signing is the one definition of a module signature, shared by the
// server (which verifies) and the CLI (which generates keys and signs).
//
// A publisher signs a canonical statement naming exactly what it vouches for:
// its own name, the module's name and version, the sha256 of the wasm bytes
// and of the manifest, the key it signs with and when. The signature travels
// beside the module (the `signature` part of an upload), so the wasm bytes
// stay untouched, and a signature moved onto another name, version or body
// no longer matches its statement.
//
// Everything is Ed25519 (crypto/ed25519). Signed bytes always start with a
// domain-separation line, so a signature of one kind (a module statement) can
// never be replayed as another (a proof of key possession).
package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Domain-separation prefixes of the two kinds of signed message.
const (
	statementDomain = "wasmflow-module-signature-v1\n"
	proofDomain     = "wasmflow-publisher-key-v1\n"
)

// MaxEnvelopeBytes caps a signature document; a real one is about 500 bytes.
const MaxEnvelopeBytes = 16 << 10

// ErrInvalid wraps every reason a signature, statement, key or proof is
// refused; the message says which part and why.
var ErrInvalid = errors.New("signing: invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Statement is what a publisher vouches for. Its JSON field names are part of
// the signature format.
type Statement struct {
	// Publisher owns the module's namespace: a module "acme/x" is signed by
	// publisher "acme".
	Publisher string `json:"publisher"`
	// Name is the module's full name, "owner/name".
	Name string `json:"name"`
	// Version is the module's exact semver version.
	Version string `json:"version"`
	// WasmSHA256 is the lower-case hex sha256 of the wasm bytes.
	WasmSHA256 string `json:"wasm_sha256"`
	// ManifestSHA256 is the lower-case hex sha256 of the manifest's
	// canonical form (see [ManifestDigest]).
	ManifestSHA256 string `json:"manifest_sha256"`
	// KeyID names the publisher key that signs (see [KeyID]).
	KeyID string `json:"key_id"`
	// SignedAt is when the statement was signed; the key must be valid then.
	SignedAt time.Time `json:"signed_at"`
}

// Envelope is the detached signature document: the statement and the
// base64 (standard encoding) Ed25519 signature over [Statement.Bytes].
type Envelope struct {
	Statement Statement `json:"statement"`
	Signature string    `json:"signature"`
}

var (
	namePart = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	hexSHA   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	keyIDRe  = regexp.MustCompile(`^ed25519:[0-9a-f]{16}$`)
)

// ValidPublisher reports whether s can name a publisher: the same shape as
// the owner part of a module name.
func ValidPublisher(s string) bool { return namePart.MatchString(s) }

// Bytes is the exact message that is signed: the domain line followed by the
// statement as JSON with its keys in a fixed order and the time in UTC with
// second precision, so signer and verifier always agree byte for byte.
func (s *Statement) Bytes() []byte {
	canonical := struct {
		KeyID          string `json:"key_id"`
		ManifestSHA256 string `json:"manifest_sha256"`
		Name           string `json:"name"`
		Publisher      string `json:"publisher"`
		SignedAt       string `json:"signed_at"`
		Version        string `json:"version"`
		WasmSHA256     string `json:"wasm_sha256"`
	}{s.KeyID, s.ManifestSHA256, s.Name, s.Publisher, s.SignedAt.UTC().Format(time.RFC3339), s.Version, s.WasmSHA256}
	b, _ := json.Marshal(canonical) // strings only: cannot fail
	return append([]byte(statementDomain), b...)
}

// Check reports the first malformed field of the statement, or nil. It says
// nothing about whether the statement is true of a module (see [Matches]).
func (s *Statement) Check() error {
	owner, _, ok := strings.Cut(s.Name, "/")
	switch {
	case !ValidPublisher(s.Publisher):
		return invalid("statement.publisher %q is not a publisher name", s.Publisher)
	case !ok || !ValidPublisher(owner) || !namePart.MatchString(s.Name[len(owner)+1:]):
		return invalid("statement.name %q is not owner/name", s.Name)
	case owner != s.Publisher:
		return invalid("statement.name %q is outside publisher %q's namespace", s.Name, s.Publisher)
	case s.Version == "" || len(s.Version) > 64:
		return invalid("statement.version is empty or too long")
	case !hexSHA.MatchString(s.WasmSHA256):
		return invalid("statement.wasm_sha256 is not a lower-case hex sha256")
	case !hexSHA.MatchString(s.ManifestSHA256):
		return invalid("statement.manifest_sha256 is not a lower-case hex sha256")
	case !keyIDRe.MatchString(s.KeyID):
		return invalid("statement.key_id %q is not an ed25519 key id", s.KeyID)
	case s.SignedAt.IsZero():
		return invalid("statement.signed_at is missing")
	}
	return nil
}

// Subject is what a statement must describe for a module version to match it.
type Subject struct {
	Name, Version string
	Wasm          []byte
	// Manifest is the manifest as uploaded (any formatting; see ManifestDigest).
	Manifest []byte
}

// NewStatement describes a module for signing with keyID at time at.
func NewStatement(publisher, keyID string, sub Subject, at time.Time) (*Statement, error) {
	md, err := ManifestDigest(sub.Manifest)
	if err != nil {
		return nil, err
	}
	s := &Statement{
		Publisher: publisher, Name: sub.Name, Version: sub.Version,
		WasmSHA256: SHA256Hex(sub.Wasm), ManifestSHA256: md,
		KeyID: keyID, SignedAt: at.UTC().Truncate(time.Second),
	}
	return s, s.Check()
}

// Matches reports, naming the first difference, whether the statement
// describes exactly this module: name, version, wasm and manifest.
func (s *Statement) Matches(sub Subject) error {
	if s.Name != sub.Name {
		return invalid("the signature is for %q, not %q", s.Name, sub.Name)
	}
	if s.Version != sub.Version {
		return invalid("the signature is for version %s, not %s", s.Version, sub.Version)
	}
	if s.WasmSHA256 != SHA256Hex(sub.Wasm) {
		return invalid("the wasm bytes differ from the signed ones")
	}
	md, err := ManifestDigest(sub.Manifest)
	if err != nil {
		return err
	}
	if s.ManifestSHA256 != md {
		return invalid("the manifest differs from the signed one")
	}
	return nil
}

// SHA256Hex is the lower-case hex sha256 of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ManifestDigest is the hex sha256 of the manifest's canonical form: the
// JSON re-encoded with object keys sorted, no insignificant whitespace and
// numbers as written. Reformatting a manifest keeps its signature valid;
// changing any value (a wider capability) does not.
func ManifestDigest(manifest []byte) (string, error) {
	c, err := Canonical(manifest)
	if err != nil {
		return "", err
	}
	return SHA256Hex(c), nil
}

// Canonical re-encodes a JSON document with sorted object keys and without
// insignificant whitespace. Numbers keep their literal text; duplicate keys
// and trailing data are refused, so two documents that different parsers
// could read differently never share a canonical form.
func Canonical(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := canonicalValue(dec, &buf); err != nil {
		return nil, invalid("manifest: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, invalid("manifest: data after the JSON document")
	}
	return buf.Bytes(), nil
}

func canonicalValue(dec *json.Decoder, buf *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return canonicalObject(dec, buf)
		case '[':
			buf.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					buf.WriteByte(',')
				}
				if err := canonicalValue(dec, buf); err != nil {
					return err
				}
			}
			_, err := dec.Token() // ']'
			buf.WriteByte(']')
			return err
		}
		return fmt.Errorf("unexpected %q", t)
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		buf.Write(b)
		return nil
	}
}

func canonicalObject(dec *json.Decoder, buf *bytes.Buffer) error {
	members := map[string][]byte{}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // inside an object the decoder only yields string keys here
		if _, dup := members[key]; dup {
			return fmt.Errorf("duplicate key %q", key)
		}
		var value bytes.Buffer
		if err := canonicalValue(dec, &value); err != nil {
			return err
		}
		members[key] = value.Bytes()
		keys = append(keys, key)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return err
	}
	slices.Sort(keys)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(members[k])
	}
	buf.WriteByte('}')
	return nil
}

// ParseEnvelope reads a signature document strictly: one JSON object with
// exactly the statement and the signature, a well-formed statement and a
// signature of Ed25519's size.
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeBytes {
		return nil, invalid("the signature document is over %d bytes", MaxEnvelopeBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var env Envelope
	if err := dec.Decode(&env); err != nil {
		return nil, invalid("the signature document is not valid: %v", err)
	}
	if dec.More() {
		return nil, invalid("data after the signature document")
	}
	if err := env.Statement.Check(); err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, invalid("signature is not a base64 Ed25519 signature")
	}
	return &env, nil
}

// Marshal encodes the envelope as the document uploaded beside a module.
func (e *Envelope) Marshal() []byte {
	b, _ := json.MarshalIndent(e, "", "  ") // plain strings and a time: cannot fail
	return append(b, '\n')
}

// Verify checks the envelope's signature with the public key. It checks the
// cryptography only: whether the key belongs to the publisher, was valid at
// SignedAt and is not revoked is the verifier's policy.
func (e *Envelope) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return invalid("public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if KeyID(pub) != e.Statement.KeyID {
		return invalid("key %s did not make this signature (it names %s)", KeyID(pub), e.Statement.KeyID)
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil || !ed25519.Verify(pub, e.Statement.Bytes(), sig) {
		return invalid("the signature does not verify with key %s", e.Statement.KeyID)
	}
	return nil
}

// KeyID names a public key by its fingerprint: "ed25519:" and the first 16
// hex digits of its sha256. Deriving it means an id can never point at
// another key.
func KeyID(pub ed25519.PublicKey) string {
	return "ed25519:" + SHA256Hex(pub)[:16]
}

// ParsePublicKey decodes a base64 (standard encoding) Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, invalid("public_key is not a base64 Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

// EncodePublicKey is the base64 text form of a public key.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// ProofMessage is what a publisher signs to show it holds the private half
// of a key it registers: the publisher and the key, under their own domain.
func ProofMessage(publisher string, pub ed25519.PublicKey) []byte {
	return []byte(proofDomain + publisher + "\n" + KeyID(pub) + "\n" + EncodePublicKey(pub) + "\n")
}

// VerifyProof checks a proof of possession (base64 signature over
// [ProofMessage]) for registering pub under publisher.
func VerifyProof(publisher string, pub ed25519.PublicKey, proof string) error {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(proof))
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, ProofMessage(publisher, pub), sig) {
		return invalid("proof does not show possession of key %s for publisher %q", KeyID(pub), publisher)
	}
	return nil
}

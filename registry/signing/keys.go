package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"
)

// PrivateKey is a publisher's signing key as stored in a key file. The file
// holds the Ed25519 seed; whoever reads it can sign as the publisher, so the
// CLI writes it with mode 0600.
type PrivateKey struct {
	Publisher string `json:"publisher"`
	KeyID     string `json:"key_id"`
	// Seed is the base64 (standard encoding) 32-byte Ed25519 seed.
	Seed string `json:"private_key"`

	key ed25519.PrivateKey
}

// PublicKeyFile is the shareable half: what a publisher registers.
type PublicKeyFile struct {
	Publisher string `json:"publisher"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
}

// GenerateKey makes a new key for publisher.
func GenerateKey(publisher string) (*PrivateKey, error) {
	if !ValidPublisher(publisher) {
		return nil, invalid("publisher %q is not a publisher name (lower-case letters, digits, dashes)", publisher)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{
		Publisher: publisher, KeyID: KeyID(pub),
		Seed: base64.StdEncoding.EncodeToString(key.Seed()), key: key,
	}, nil
}

// ParsePrivateKey reads a key file and checks that its id is its key's.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var k PrivateKey
	if err := dec.Decode(&k); err != nil {
		return nil, invalid("key file: %v", err)
	}
	seed, err := base64.StdEncoding.DecodeString(k.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, invalid("key file: private_key is not a base64 Ed25519 seed")
	}
	if !ValidPublisher(k.Publisher) {
		return nil, invalid("key file: publisher %q is not a publisher name", k.Publisher)
	}
	k.key = ed25519.NewKeyFromSeed(seed)
	if id := KeyID(k.Public()); k.KeyID != id {
		return nil, invalid("key file: key_id %q does not match the key (%s)", k.KeyID, id)
	}
	return &k, nil
}

// Marshal encodes the key file.
func (k *PrivateKey) Marshal() []byte {
	// The key file exists to hold the seed; the CLI writes it with mode 0600.
	b, _ := json.MarshalIndent(k, "", "  ") //nolint:gosec // strings only: cannot fail
	return append(b, '\n')
}

// Public is the key's public half.
func (k *PrivateKey) Public() ed25519.PublicKey { return k.key.Public().(ed25519.PublicKey) }

// PublicFile is the shareable description of the key.
func (k *PrivateKey) PublicFile() *PublicKeyFile {
	return &PublicKeyFile{Publisher: k.Publisher, KeyID: k.KeyID, PublicKey: EncodePublicKey(k.Public())}
}

// Prove signs the proof of possession registering this key needs.
func (k *PrivateKey) Prove() string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(k.key, ProofMessage(k.Publisher, k.Public())))
}

// Sign describes the module and signs the statement at time at.
func (k *PrivateKey) Sign(sub Subject, at time.Time) (*Envelope, error) {
	s, err := NewStatement(k.Publisher, k.KeyID, sub, at)
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(k.key, s.Bytes())
	return &Envelope{Statement: *s, Signature: base64.StdEncoding.EncodeToString(sig)}, nil
}

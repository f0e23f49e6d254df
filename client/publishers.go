package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Publisher owns the module names under its own: publisher "acme" owns
// "acme/*".
type Publisher struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// PublisherKey is a publisher's registered public key.
type PublisherKey struct {
	KeyID     string `json:"key_id"`
	Publisher string `json:"publisher"`
	// PublicKey is the base64 Ed25519 public key.
	PublicKey string `json:"public_key"`
	// NotBefore and NotAfter bound when the key may sign; nil is unbounded.
	NotBefore *time.Time `json:"not_before"`
	NotAfter  *time.Time `json:"not_after"`
	// RevokedAt is when the key was revoked, nil while it is not.
	RevokedAt *time.Time `json:"revoked_at"`
}

// Page is one page of a list and the cursor of the next, empty on the last.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// PublisherCreate creates a publisher owned by the caller's tenant.
func (c *Client) PublisherCreate(ctx context.Context, name string) (*Publisher, error) {
	var out Publisher
	err := c.do(ctx, &request{method: http.MethodPost, path: apiPath("publishers"), json: map[string]string{"name": name}}, &out)
	return &out, err
}

// PublisherList lists the publishers of the caller's tenant.
func (c *Client) PublisherList(ctx context.Context) ([]Publisher, error) {
	return listAll[Publisher](ctx, c, apiPath("publishers"))
}

// listAll reads every page of a list.
func listAll[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	all := []T{}
	q := url.Values{}
	seen := map[string]bool{} // a server that hands back a cursor again would loop forever
	for {
		var page Page[T]
		if err := c.do(ctx, &request{method: http.MethodGet, path: path, query: q}, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" || seen[page.NextCursor] {
			return all, nil
		}
		seen[page.NextCursor] = true
		q.Set("cursor", page.NextCursor)
	}
}

// KeyRegisterParams register a public key with a publisher.
type KeyRegisterParams struct {
	// PublicKey is the base64 Ed25519 public key.
	PublicKey string `json:"public_key"`
	// Proof is the proof of possession: the private key's signature over
	// what signing.ProofMessage says (signing.PrivateKey.Prove).
	Proof string `json:"proof"`
	// NotBefore and NotAfter bound when the key may sign; nil leaves the
	// server's default.
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

// KeyRegister registers a key with the publisher.
func (c *Client) KeyRegister(ctx context.Context, publisher string, p *KeyRegisterParams) (*PublisherKey, error) {
	var out PublisherKey
	err := c.do(ctx, &request{method: http.MethodPost, path: apiPath("publishers", publisher, "keys"), json: p}, &out)
	return &out, err
}

// KeyList lists the publisher's keys, revoked ones included.
func (c *Client) KeyList(ctx context.Context, publisher string) ([]PublisherKey, error) {
	return listAll[PublisherKey](ctx, c, apiPath("publishers", publisher, "keys"))
}

// KeyRevoke revokes one of the publisher's keys: modules it signed stop
// running.
func (c *Client) KeyRevoke(ctx context.Context, publisher, keyID string) (*PublisherKey, error) {
	var out PublisherKey
	err := c.do(ctx, &request{method: http.MethodPost, path: apiPath("publishers", publisher, "keys", keyID, "revoke"), json: struct{}{}}, &out)
	return &out, err
}

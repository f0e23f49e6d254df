package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wasmflow/wasmflow/workflow"
)

// CatalogEntry is a module of the shared catalog with its published versions.
type CatalogEntry struct {
	Name        string `json:"name"`
	Publisher   string `json:"publisher"`
	Description string `json:"description"`
	// LatestVersion is the version published last.
	LatestVersion string `json:"latest_version"`
	// Versions are every published version, oldest first, yanked included.
	Versions []CatalogVersion `json:"versions"`
}

// CatalogVersion is one published version of a catalog module.
type CatalogVersion struct {
	Version   string          `json:"version"`
	Digest    string          `json:"digest"`
	Signature SignatureStatus `json:"signature"`
	// Capabilities are what the version asks for; an install grants them
	// (or fewer).
	Capabilities workflow.Capabilities `json:"capabilities"`
	Yanked       bool                  `json:"yanked"`
	YankReason   string                `json:"yank_reason,omitempty"`
	Size         int64                 `json:"size"`
	PublishedAt  time.Time             `json:"published_at"`
}

// Version finds a version of the entry: the exact one, or with version ""
// the newest not yanked (the catalog lists versions oldest first, as the
// registry does). It reports false when there is none.
func (e *CatalogEntry) Version(version string) (*CatalogVersion, bool) {
	for i := len(e.Versions) - 1; i >= 0; i-- {
		v := &e.Versions[i]
		if (version == "" && !v.Yanked) || (version != "" && v.Version == version) {
			return v, true
		}
	}
	return nil, false
}

// MarketplaceSearchParams select a page of the catalog.
type MarketplaceSearchParams struct {
	// Query matches names and descriptions; empty lists everything.
	Query  string
	Cursor string
	// Limit is the page size; 0 takes the server's default.
	Limit int
}

// MarketplaceSearch reads one page of the shared catalog.
func (c *Client) MarketplaceSearch(ctx context.Context, p *MarketplaceSearchParams) (*Page[CatalogEntry], error) {
	q := url.Values{}
	if p.Query != "" {
		q.Set("q", p.Query)
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	var out Page[CatalogEntry]
	err := c.do(ctx, &request{method: http.MethodGet, path: apiPath("marketplace"), query: q}, &out)
	if out.Items == nil {
		out.Items = []CatalogEntry{}
	}
	return &out, err
}

// MarketplaceGet reads one catalog module with every published version.
func (c *Client) MarketplaceGet(ctx context.Context, name string) (*CatalogEntry, error) {
	seg, err := moduleSegments(name)
	if err != nil {
		return nil, err
	}
	var out CatalogEntry
	err = c.do(ctx, &request{method: http.MethodGet, path: apiPath("marketplace", seg[0], seg[1])}, &out)
	return &out, err
}

// PublishParams publish a version of one of the tenant's modules.
type PublishParams struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// MarketplacePublish puts a version of the caller's module into the shared
// catalog; it must be signed by a publisher the caller's tenant owns.
func (c *Client) MarketplacePublish(ctx context.Context, p *PublishParams) (*CatalogEntry, error) {
	var out CatalogEntry
	err := c.do(ctx, &request{method: http.MethodPost, path: apiPath("marketplace", "publish"), json: p}, &out)
	return &out, err
}

// InstallParams install a catalog module into the caller's tenant.
type InstallParams struct {
	Name string `json:"name"`
	// Version is exact; empty installs the newest version not yanked.
	Version string `json:"version,omitempty"`
	// Grant is what the tenant allows the module: at most what the version
	// asks for, and something for every capability it asks for.
	Grant workflow.Capabilities `json:"grant"`
}

// Install is an installed catalog module.
type Install struct {
	Name    string                `json:"name"`
	Version string                `json:"version"`
	Digest  string                `json:"digest"`
	Grant   workflow.Capabilities `json:"grant"`
	// GrantCovers is false when the tenant's grant does not cover what the
	// version asks for: its runs are refused until a new grant.
	GrantCovers bool `json:"grant_covers"`
}

// MarketplaceInstall installs a catalog module with a grant.
func (c *Client) MarketplaceInstall(ctx context.Context, p *InstallParams) (*Install, error) {
	var out Install
	err := c.do(ctx, &request{method: http.MethodPost, path: apiPath("marketplace", "install"), json: p}, &out)
	return &out, err
}

// MarketplaceYank withdraws a published version: new runs of it stop, and it
// is no longer installed as the newest.
func (c *Client) MarketplaceYank(ctx context.Context, name, version, reason string) error {
	seg, err := moduleSegments(name)
	if err != nil {
		return err
	}
	return c.do(ctx, &request{method: http.MethodPost, path: apiPath("marketplace", seg[0], seg[1], "versions", version, "yank"),
		json: map[string]string{"reason": reason}}, nil)
}

package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"time"
)

// SignatureStatus is what the server concluded about a module's signature.
type SignatureStatus struct {
	// Status is "verified" or "unsigned" (or, in the catalog, a reason the
	// signature no longer holds, such as "revoked").
	Status    string     `json:"status"`
	Publisher string     `json:"publisher,omitempty"`
	KeyID     string     `json:"key_id,omitempty"`
	SignedAt  *time.Time `json:"signed_at,omitempty"`
}

// NodeVersion is one stored version of a node module.
type NodeVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Digest is "sha256:" and the hex sha256 of the wasm bytes.
	Digest    string           `json:"digest"`
	ABI       string           `json:"abi"`
	Size      int64            `json:"size"`
	Signature *SignatureStatus `json:"signature,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
}

// UploadParams are the parts of a module upload.
type UploadParams struct {
	Module   []byte
	Manifest []byte
	// Signature is the detached signature document; nil uploads unsigned.
	Signature []byte
	// Progress, when set, is called as the body is sent with the bytes sent
	// so far and the body's size, from the goroutine sending it.
	Progress func(sent, total int64)
}

// NodeUpload uploads a module version. Created is false when the same
// version with the same bytes was there already.
func (c *Client) NodeUpload(ctx context.Context, p *UploadParams) (v *NodeVersion, created bool, err error) {
	if len(p.Module) == 0 || len(p.Manifest) == 0 {
		return nil, false, errors.New("client: an upload needs a module and a manifest")
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	parts := []struct {
		name, file, contentType string
		data                    []byte
	}{
		{"module", "module.wasm", "application/wasm", p.Module},
		{"manifest", "wasmflow.json", "application/json", p.Manifest},
		{"signature", "node.sig", "application/json", p.Signature},
	}
	for _, part := range parts {
		if part.data == nil {
			continue
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+part.name+`"; filename="`+part.file+`"`)
		h.Set("Content-Type", part.contentType)
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, false, err
		}
		if _, err := w.Write(part.data); err != nil {
			return nil, false, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, false, err
	}
	var reader io.Reader = bytes.NewReader(body.Bytes())
	if p.Progress != nil {
		reader = &progressReader{r: reader, total: int64(body.Len()), report: p.Progress}
	}
	var out NodeVersion
	var status int
	err = c.do(ctx, &request{method: http.MethodPost, path: apiPath("nodes"), body: reader,
		contentType: mw.FormDataContentType(), length: int64(body.Len()), status: &status}, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, status == http.StatusCreated, nil
}

// NodeGet reads one version of a module of the caller's tenant.
func (c *Client) NodeGet(ctx context.Context, name, version string) (*NodeVersion, error) {
	seg, err := moduleSegments(name)
	if err != nil {
		return nil, err
	}
	var out NodeVersion
	err = c.do(ctx, &request{method: http.MethodGet, path: apiPath("nodes", seg[0], seg[1], "versions", version)}, &out)
	return &out, err
}

// progressReader reports how much of a body has been read.
type progressReader struct {
	r           io.Reader
	sent, total int64
	report      func(sent, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.sent += int64(n)
		p.report(p.sent, p.total)
	}
	return n, err
}

package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxConfigFileBytes caps the config file; a real one is two lines.
const maxConfigFileBytes = 64 << 10

// FileConfig is the command line's config file, by default
// $XDG_CONFIG_HOME/wasmflow/config.json: {"server": "…", "api_key": "…"}.
// Flags and the environment override each field.
type FileConfig struct {
	Server string `json:"server,omitempty"`
	APIKey string `json:"api_key,omitempty"`
}

// DefaultConfigPath is $XDG_CONFIG_HOME/wasmflow/config.json (on Linux;
// os.UserConfigDir elsewhere), or "" when the platform has none.
func DefaultConfigPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "wasmflow", "config.json")
}

// ReadConfigFile reads a config file. A missing file is an empty config
// unless required (the user named it). A file holding an API key must be
// readable by its owner only, as the server's own key files are.
func ReadConfigFile(path string, required bool) (*FileConfig, error) {
	if path == "" {
		return &FileConfig{}, nil
	}
	f, err := os.Open(path) //nolint:gosec // G304: the user names their config file
	if errors.Is(err, fs.ErrNotExist) && !required {
		return &FileConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	if info.Size() > maxConfigFileBytes {
		return nil, fmt.Errorf("config file %s: over %d bytes", path, maxConfigFileBytes)
	}
	data := make([]byte, info.Size())
	if _, err := f.ReadAt(data, 0); err != nil && info.Size() > 0 {
		return nil, fmt.Errorf("config file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c FileConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config file %s: want {\"server\": \"…\", \"api_key\": \"…\"}: %w", path, err)
	}
	if c.APIKey != "" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("config file %s holds an API key but others may read it: chmod 600 %s", path, path)
	}
	return &c, nil
}

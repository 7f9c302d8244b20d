package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"tokenjar/server/core"
)

// GatewayKeyFileName is the file in the data folder that holds the secret sealing AI provider keys.
// Back it up with the database: without it the stored provider keys cannot be opened.
const GatewayKeyFileName = "provider-keys.secret"

// LoadOrCreateGatewayKey reads the provider-key secret from dataDir, creating it (32 random bytes,
// hex, mode 0600) on first start, and returns the core.KeyBox made from it. A file readable by others
// is narrowed to 0600; a file of the wrong size is an error, never silently replaced, since that
// would lose every stored key.
func LoadOrCreateGatewayKey(dataDir string) (*core.KeyBox, error) {
	path := filepath.Join(dataDir, GatewayKeyFileName)
	secret, err := readGatewayKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret, err = createGatewayKey(path)
		if errors.Is(err, fs.ErrExist) { // another process made it first
			secret, err = readGatewayKey(path)
		}
	}
	if err != nil {
		return nil, err
	}
	return core.NewKeyBox(secret)
}

func readGatewayKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("%s is readable by others and cannot be narrowed: %w", path, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	secret, err := hex.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(secret) != core.KeyBoxKeySize {
		return nil, fmt.Errorf("%s is not a provider-key secret (64 hex digits)", path)
	}
	return secret, nil
}

func createGatewayKey(path string) ([]byte, error) {
	secret := make([]byte, core.KeyBoxKeySize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(hex.EncodeToString(secret) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil { // the new name survives a power cut
		_ = d.Sync()
		d.Close()
	}
	return secret, nil
}

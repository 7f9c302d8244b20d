package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"tokenjar/server/core"
)

// GatewayKeyFileName is the file in the data folder that holds the secret sealing AI provider keys.
// Back it up with the database: without it the stored provider keys cannot be opened.
const GatewayKeyFileName = "provider-keys.secret"

// GatewayKeyEnv names the environment variable that may give the provider-key secret (64 hex
// digits): the same on every replica of a PostgreSQL database.
const GatewayKeyEnv = "TOKENJAR_SECRET_KEY"

// gatewaySecretName is the provider-key secret's name in the database (core.SharedSecret).
const gatewaySecretName = "providerKeys"

// LoadGatewayKey returns the core.KeyBox sealing AI provider keys, made from the secret this
// instance keeps:
//   - envKey (TOKENJAR_SECRET_KEY), when set, on either engine. A different secret already in
//     use (the data folder's file on SQLite, the database's on PostgreSQL) is an error: the
//     provider keys stored with it would no longer open.
//   - on SQLite, otherwise, the file in the data folder (LoadOrCreateGatewayKey).
//   - on PostgreSQL, otherwise, the secret kept in the database, where replicas that each have a
//     data folder of their own find the same one. The first replica to start stores it: the
//     data folder's file if it has one (an instance moved over from SQLite keeps its provider
//     keys readable), else a new random secret.
func LoadGatewayKey(ctx context.Context, svc *core.Service, dataDir, envKey string) (*core.KeyBox, error) {
	file := filepath.Join(dataDir, GatewayKeyFileName)
	if envKey != "" {
		secret, err := decodeGatewayKey(envKey, GatewayKeyEnv)
		if err != nil {
			return nil, err
		}
		var inUse []byte
		where := file
		if svc.Replicated() {
			where = "the database"
			stored, ok, err := svc.StoredSecret(ctx, gatewaySecretName)
			if err != nil {
				return nil, err
			}
			if ok {
				if inUse, err = decodeGatewayKey(stored, where); err != nil {
					return nil, err
				}
			}
		} else if inUse, err = readGatewayKey(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if inUse != nil && !bytes.Equal(inUse, secret) {
			return nil, fmt.Errorf("%s differs from the provider-key secret in %s, which the stored AI provider keys were sealed with", GatewayKeyEnv, where)
		}
		return core.NewKeyBox(secret)
	}
	if !svc.Replicated() {
		return LoadOrCreateGatewayKey(dataDir)
	}
	candidate, err := readGatewayKey(file)
	if errors.Is(err, fs.ErrNotExist) {
		candidate, err = newGatewayKey()
	}
	if err != nil {
		return nil, err
	}
	stored, err := svc.SharedSecret(ctx, gatewaySecretName, hex.EncodeToString(candidate))
	if err != nil {
		return nil, err
	}
	secret, err := decodeGatewayKey(stored, "the database")
	if err != nil {
		return nil, err
	}
	return core.NewKeyBox(secret)
}

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
	return decodeGatewayKey(string(b), path)
}

// decodeGatewayKey reads a secret written as 64 hex digits; where says where it came from.
func decodeGatewayKey(s, where string) ([]byte, error) {
	secret, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(secret) != core.KeyBoxKeySize {
		return nil, fmt.Errorf("%s is not a provider-key secret (64 hex digits)", where)
	}
	return secret, nil
}

func newGatewayKey() ([]byte, error) {
	secret := make([]byte, core.KeyBoxKeySize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return secret, nil
}

func createGatewayKey(path string) ([]byte, error) {
	secret, err := newGatewayKey()
	if err != nil {
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

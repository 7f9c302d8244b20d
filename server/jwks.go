package server

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// jwksCache verifies OpenID Connect id_tokens against the provider's published keys. goth
// checks the audience, issuer and expiry of the token but not its signature; this adds it.
type jwksCache struct {
	mu      sync.Mutex
	keys    map[string]map[string]*rsa.PublicKey // discovery URL → kid → key
	fetched map[string]time.Time
	client  *http.Client
}

func newJWKSCache() *jwksCache {
	return &jwksCache{keys: map[string]map[string]*rsa.PublicKey{}, fetched: map[string]time.Time{}, client: &http.Client{Timeout: 10 * time.Second}}
}

func (j *jwksCache) getJSON(ctx context.Context, url string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(dst)
}

func (j *jwksCache) load(ctx context.Context, discovery string) (map[string]*rsa.PublicKey, error) {
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := j.getJSON(ctx, discovery, &doc); err != nil {
		return nil, err
	}
	if doc.JWKSURI == "" {
		return nil, errors.New("the discovery document has no jwks_uri")
	}
	var set struct {
		Keys []struct {
			Kty, Kid, N, E, Use, Alg string
		} `json:"keys"`
	}
	if err := j.getJSON(ctx, doc.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys, nil
}

// verify checks an RS256 id_token's signature and returns its claims.
func (j *jwksCache) verify(ctx context.Context, discovery, token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	var header struct{ Alg, Kid string }
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &header) != nil {
		return nil, errors.New("bad JWT header")
	}
	if header.Alg != "RS256" {
		return nil, fmt.Errorf("unsupported signing algorithm %q", header.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("bad JWT signature encoding")
	}
	key, err := j.key(ctx, discovery, header.Kid)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, errors.New("the signature does not match the provider's keys")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("bad JWT payload")
	}
	var claims map[string]any
	if err := json.Unmarshal(pb, &claims); err != nil {
		return nil, errors.New("bad JWT payload")
	}
	return claims, nil
}

// key finds a signing key by id, refetching the key set (at most once a minute) when a
// provider has rotated its keys.
func (j *jwksCache) key(ctx context.Context, discovery, kid string) (*rsa.PublicKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	find := func() *rsa.PublicKey {
		keys := j.keys[discovery]
		if k, ok := keys[kid]; ok {
			return k
		}
		if kid == "" && len(keys) == 1 {
			for _, k := range keys {
				return k
			}
		}
		return nil
	}
	if k := find(); k != nil {
		return k, nil
	}
	if time.Since(j.fetched[discovery]) < time.Minute && j.keys[discovery] != nil {
		return nil, fmt.Errorf("no signing key %q", kid)
	}
	keys, err := j.load(ctx, discovery)
	if err != nil {
		return nil, err
	}
	j.keys[discovery], j.fetched[discovery] = keys, time.Now()
	if k := find(); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("no signing key %q", kid)
}

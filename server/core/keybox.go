package core

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"log/slog"
)

// KeyBoxKeySize is the length of the secret a KeyBox is made from (AES-256).
const KeyBoxKeySize = 32

// keyBoxAAD binds sealed provider keys to their purpose: a blob sealed for anything else fails.
var keyBoxAAD = []byte("tokenjar provider api key v1")

// KeyBox seals provider API keys for storage with AES-256-GCM. Its secret comes from the key file in
// the data folder; core is handed the bytes and never reads files or the environment for them.
type KeyBox struct{ aead cipher.AEAD }

// NewKeyBox makes a KeyBox from a 32-byte secret.
func NewKeyBox(secret []byte) (*KeyBox, error) {
	if len(secret) != KeyBoxKeySize {
		return nil, errors.New("key box: the secret must be 32 bytes")
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &KeyBox{aead: aead}, nil
}

// String, GoString and LogValue keep the cipher's state out of any print or log line.
func (*KeyBox) String() string       { return "KeyBox(redacted)" }
func (*KeyBox) GoString() string     { return "KeyBox(redacted)" }
func (*KeyBox) LogValue() slog.Value { return slog.StringValue("KeyBox(redacted)") }

// seal encrypts plain as nonce || ciphertext.
func (b *KeyBox) seal(plain string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return b.aead.Seal(nonce, nonce, []byte(plain), keyBoxAAD), nil
}

// errSealed is returned for a sealed key that does not open: another key file, or a damaged row.
var errSealed = errors.New("a stored provider key cannot be decrypted with this instance's key file")

// open decrypts what seal made.
func (b *KeyBox) open(sealed []byte) (string, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return "", errSealed
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], keyBoxAAD)
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}

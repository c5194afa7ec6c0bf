package rpc

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// APIKeyPrefix starts every API key NewAPIKey makes, so that secret
// scanners and people can tell one.
const APIKeyPrefix = "arcgate_"

// NewAPIKey returns a new random API key: APIKeyPrefix and 43 base64url
// characters holding 256 random bits. It fits in a header and a shell
// word as is.
func NewAPIKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CallersLine returns the callers-file line that lets key in as identity
// with scope ("read", "write" or "admin"): the key's SHA-256, never the
// key. Identity and scope are checked as the callers file parser checks
// them; errors name the field and never quote the key.
func CallersLine(identity, scope, key string) (string, error) {
	if !validIdentity(identity) {
		return "", errors.New("identity must be 1 to 64 letters, digits, '.', '_', '-' or '@'")
	}
	if key == "" || len(key) > maxAPIKeyLen {
		return "", fmt.Errorf("API key must be 1 to %d bytes", maxAPIKeyLen)
	}
	line := identity + " " + scope + " " + HashAPIKey(key)
	if _, err := parseCredentialLine(line); err != nil {
		return "", err
	}
	return line, nil
}

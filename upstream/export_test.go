package upstream

// Test hooks for the external test package.

// DecodeResponse exposes decodeResponse to fuzz tests.
func DecodeResponse(status int, contentType string, body []byte, v any) error {
	if e := decodeResponse(status, contentType, body, v); e != nil {
		return e
	}
	return nil
}

// NewCredentialsForTest returns the credentials holder used by
// WithCredentials, for redaction tests.
func NewCredentialsForTest(username, password string) any {
	return credentials{username: username, password: newSecret(password)}
}

// CredentialsOf returns the credentials holder of c (nil if none).
func CredentialsOf(c *Client) any {
	if c.creds == nil {
		return nil
	}
	return c.creds
}

// WithoutSource returns i without the object it was decoded from (what Raw
// returns, and its digest), to compare its typed fields.
func WithoutSource(i ItemInfo) ItemInfo {
	i.src = nil
	i.received = digest{}
	return i
}

// DecodeItemInfoJSON decodes b the way ItemInfo did before
// decodeItemInfoFast (encoding/json, and key by key where that could
// differ), for differential tests.
func DecodeItemInfoJSON(b []byte) (ItemInfo, error) {
	var i ItemInfo
	err := i.decodeJSON(b)
	return i, err
}

// DecodeKubernetesJob exposes decodeKubernetesJob to table and fuzz tests.
func DecodeKubernetesJob(body []byte) (*KubernetesJob, error) {
	return decodeKubernetesJob("jobs.get", "jobs/x", body)
}

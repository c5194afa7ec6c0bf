package upstream

import "time"

// Test hooks of the token pool for the external test package.

// TierWindows exposes the advisory window A and the mandatory window M of
// a token living life: the advisory refresh starts in [T−A, T−A/2], the
// mandatory one at T−M.
func TierWindows(life time.Duration) (advisory, mandatory time.Duration) { return tierWindows(life) }

// WaitRefreshes waits for the pool's running refreshes (background ones
// included). Tests call it only while no other goroutine uses the pool.
func WaitRefreshes(p *Pool) { p.wg.Wait() }

// ParseGenerateTokenResponse decodes a generateToken answer the way the
// minters do, for fuzzing.
func ParseGenerateTokenResponse(body []byte, now time.Time) (*Token, error) {
	var resp generateTokenResponse
	if e := decodeResponse(200, "text/plain", body, &resp); e != nil {
		return nil, tokenError(e)
	}
	return resp.token(&request{op: "generateToken", method: "POST", path: "generateToken"}, now, defaultTokenExpiration)
}

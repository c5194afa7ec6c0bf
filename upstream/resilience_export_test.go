package upstream

import (
	"context"
	"net/url"
	"time"
)

// Test hooks for the resilience tests.

// SetRetrySleep replaces the wait between retries of c (installed by
// WithResilience), e.g. to record the waits without sleeping.
func SetRetrySleep(c *Client, sleep func(ctx context.Context, d time.Duration) error) {
	c.hard.rt.sleep = sleep
}

// PostRead exposes postRead, the idempotent POST used by read-only
// operations such as the roles store's getRoles.
func PostRead(ctx context.Context, c *Client, op, path string, form url.Values, v any) error {
	return c.postRead(ctx, op, path, form, v)
}

// ParseRetryAfter exposes parseRetryAfter to the fuzz test.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) { return parseRetryAfter(v, now) }

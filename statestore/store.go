package statestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store is a state store: the locks and the records shared by the calls
// arcgate serves (and by its replicas, when the store is shared).
type Store interface {
	Locker
	Records
	// String describes the store for logs, never with its credentials.
	String() string
	// Close releases the store's resources.
	Close() error
}

var _ Store = (*Memory)(nil)

// MemorySpec is the spec that names the in-memory store, Open's default.
const MemorySpec = "memory"

// String implements Store.
func (m *Memory) String() string { return MemorySpec }

// Close implements Store: there is nothing to release.
func (m *Memory) Close() error { return nil }

// pingTimeout bounds Open's first exchange with Redis, unless ctx ends
// sooner.
const pingTimeout = 5 * time.Second

// Open returns the store that spec names: "" or "memory" for an in-memory
// store (one process), or a Redis URL, redis://[[user]:password@]host[:port][/db]
// (rediss:// for TLS), for a store shared by the replicas that use the
// same database; Open checks that Redis answers. Its errors name the URL
// without its password.
func Open(ctx context.Context, spec string, opts ...RedisOption) (Store, error) {
	if spec == "" || spec == MemorySpec {
		return NewMemory(), nil
	}
	u, err := url.Parse(spec)
	if err != nil {
		// url.Parse's error quotes the whole URL, password and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("statestore: the state store is not a valid URL (%v): want memory or redis://host:port/db", err)
	}
	switch u.Scheme {
	case "redis", "rediss":
	default:
		return nil, fmt.Errorf("statestore: unsupported state store %q: want memory or redis://host:port/db", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("statestore: state store %q names no host: want redis://host:port/db", u.Redacted())
	}
	o, err := redis.ParseURL(spec)
	if err != nil {
		return nil, fmt.Errorf("statestore: invalid state store URL %q: %w", u.Redacted(), err)
	}
	c := redis.NewClient(o)
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("statestore: redis at %s did not answer: %w", o.Addr, err)
	}
	return NewRedis(c, opts...), nil
}

// SetRedisLogger sends what the Redis client logs (connections it could
// not make, say) to l, at level Warn, instead of to standard error. It
// applies to every Redis client in the process.
func SetRedisLogger(l *slog.Logger) { redis.SetLogger(redisLogger{l}) }

// redisLogger adapts a slog.Logger to the Redis client's logger.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, "state store: "+fmt.Sprintf(format, v...))
}

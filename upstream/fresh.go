package upstream

import "context"

// freshReadKey is the context key of FreshRead.
type freshReadKey struct{}

// FreshRead returns a copy of ctx whose reads are sent on their own: a read
// made with it joins no identical read in flight, which may have begun
// before the caller's last write and so answer with what that write
// replaced, and no other read joins it. A read-modify-write reads with it
// (under the lock that serialises it), so that it modifies what the
// upstream holds now.
func FreshRead(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshReadKey{}, true)
}

// isFreshRead reports whether ctx came from FreshRead.
func isFreshRead(ctx context.Context) bool {
	fresh, _ := ctx.Value(freshReadKey{}).(bool)
	return fresh
}

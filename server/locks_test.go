package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/statestore"
)

func TestLockKeys(t *testing.T) {
	svc := serviceRef{Folder: "Maps", Name: "World", Type: "MapServer"}
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"a service, whatever the case of its name", serviceLockKey(svc), serviceLockKey(serviceRef{Folder: "maps", Name: "WORLD", Type: "MapServer"}), true},
		{"an item info and its thumbnail (one upstream resource)", itemInfoLockKey(svc), itemInfoLockKey(svc), true},
		{"a service and its item info (two upstream resources)", serviceLockKey(svc), itemInfoLockKey(svc), false},
		{"a service in the root and one in a folder", serviceLockKey(serviceRef{Name: "World", Type: "MapServer"}), serviceLockKey(svc), false},
		{"a folder and a service in it", folderLockKey("Maps"), serviceLockKey(svc), false},
		{"a folder and a root service of its name", folderLockKey("World"), serviceLockKey(serviceRef{Name: "World", Type: "MapServer"}), false},
		{"two types of one name", serviceLockKey(svc), serviceLockKey(serviceRef{Folder: "Maps", Name: "World", Type: "FeatureServer"}), false},
		{"a role, whatever the case of its name", roleLockKey("Editors"), roleLockKey("editors"), true},
		{"a usage report and the settings", usageReportLockKey("weekly"), usageSettingsLockKey, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a == tc.b; got != tc.same {
				t.Errorf("keys %q and %q: same = %v, want %v", tc.a, tc.b, got, tc.same)
			}
		})
	}
}

func TestLockResourceWaitEnds(t *testing.T) {
	locks := statestore.NewMemory()
	_, unlock, err := locks.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want codes.Code
	}{
		{"deadline", func() (context.Context, context.CancelFunc) { return context.WithTimeout(context.Background(), 0) }, codes.DeadlineExceeded},
		{"canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, codes.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			_, _, err := lockResource(ctx, locks, "k", "services/World.MapServer")
			if status.Code(err) != tc.want {
				t.Fatalf("lockResource = %v, want %v", err, tc.want)
			}
		})
	}
}

// failingLocker is a Locker whose store fails, with an error that names a
// secret.
type failingLocker struct{}

func (failingLocker) Lock(context.Context, string) (context.Context, func(), error) {
	return nil, nil, errors.New("dial redis://:hunter2@10.0.0.1:6379: refused")
}

func TestLockResourceStoreFails(t *testing.T) {
	_, _, err := lockResource(context.Background(), failingLocker{}, "k", "services/World.MapServer")
	if status.Code(err) != codes.Unavailable || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "services/World.MapServer") {
		t.Fatalf("lockResource = %v, want UNAVAILABLE naming the resource and not the store's error", err)
	}
}

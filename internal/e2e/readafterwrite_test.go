package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// TestReadAfterWriteWhileListing creates and updates folders while four
// loops list folders: the read that CreateFolder and UpdateFolder make
// after their write must see it, never an answer to a listing that was
// sent before the write completed (coalesced reads joined late).
func TestReadAfterWriteWhileListing(t *testing.T) {
	n := 1000
	if raceBuild || testing.Short() {
		n = 200 // the race detector makes every call several times slower
	}
	e := start(t, simulator.Config{})
	// The count bounds this test; the deadline is only a backstop, long
	// enough for a loaded CI machine under the race detector.
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	listCtx, stopListing := context.WithCancel(c)
	var (
		wg      sync.WaitGroup
		lists   atomic.Int64
		listErr atomic.Value // error
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for listCtx.Err() == nil {
				_, err := e.services.ListFolders(listCtx, &adminv1.ListFoldersRequest{})
				if err != nil && listCtx.Err() == nil {
					listErr.Store(err)
					return
				}
				lists.Add(1)
			}
		}()
	}
	defer func() { stopListing(); wg.Wait() }()

	var createMisses, updateMisses []string
	for i := range n {
		id := fmt.Sprintf("Race%04d", i)
		cr, err := e.services.CreateFolder(c, &adminv1.CreateFolderRequest{FolderId: id, Folder: &adminv1.Folder{Description: "created " + id}})
		switch {
		case status.Code(err) == codes.NotFound:
			createMisses = append(createMisses, id)
		case err != nil:
			t.Fatalf("CreateFolder %s: %v", id, err)
		case cr.GetDescription() != "created "+id:
			createMisses = append(createMisses, id+": description "+cr.GetDescription())
		}
		want := "updated " + id
		up, err := e.services.UpdateFolder(c, &adminv1.UpdateFolderRequest{
			Folder:     &adminv1.Folder{Name: "folders/" + id, Description: want},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
		})
		if err != nil {
			t.Fatalf("UpdateFolder %s: %v", id, err)
		}
		if got := up.GetDescription(); got != want {
			updateMisses = append(updateMisses, id+": "+got)
		}
		// Keep the root listing small, so that the listing loops go fast.
		if _, err := done[emptypb.Empty](c, e.conn)(e.services.DeleteFolder(c, &adminv1.DeleteFolderRequest{Name: "folders/" + id})); err != nil {
			t.Fatalf("DeleteFolder %s: %v", id, err)
		}
	}
	stopListing()
	wg.Wait()
	if err, _ := listErr.Load().(error); err != nil {
		t.Fatalf("ListFolders: %v", err)
	}
	if lists.Load() == 0 {
		t.Fatal("the listing loops never listed")
	}
	if len(createMisses) > 0 || len(updateMisses) > 0 {
		t.Fatalf("%d of %d creates and %d of %d updates read an older state (%d listings meanwhile); first creates: %q, first updates: %q",
			len(createMisses), n, len(updateMisses), n, lists.Load(), createMisses[:min(5, len(createMisses))], updateMisses[:min(5, len(updateMisses))])
	}
	t.Logf("%d creates, %d updates, %d listings", n, n, lists.Load())
}

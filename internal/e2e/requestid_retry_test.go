package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// TestRetriedRequestIDReachesUpstreamOnce sends the same mutation twice
// with one request id, through arcgate's production chain, over gRPC (the
// request_id field) and REST (the Idempotency-Key header): the upstream
// sees one edit, and the repeat is answered from the kept outcome. The same
// id on a different request is INVALID_ARGUMENT.
func TestRetriedRequestIDReachesUpstreamOnce(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	if _, err := e.services.CreateFolder(c, &adminv1.CreateFolderRequest{FolderId: "Retried", Folder: &adminv1.Folder{}}); err != nil {
		t.Fatal(err)
	}
	edits := func() int {
		n := 0
		for _, r := range e.sim.Requests() {
			if strings.HasSuffix(r.Path, "/Retried/editFolder") {
				n++
			}
		}
		return n
	}
	update := func(id, description string) (replayed bool, err error) {
		var hdr metadata.MD
		_, err = e.services.UpdateFolder(c, &adminv1.UpdateFolderRequest{
			Folder:     &adminv1.Folder{Name: "folders/Retried", Description: description},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
			RequestId:  id,
		}, grpc.Header(&hdr))
		return len(hdr.Get("x-idempotent-replay")) > 0, err
	}
	patch := func(key, description string) (int, bool) {
		req, err := http.NewRequest(http.MethodPatch, e.rest+"/v1/folders/Retried?updateMask=description",
			bytes.NewBufferString(`{"description":"`+description+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Idempotency-Key", key)
		resp, err := e.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Idempotent-Replay") != ""
	}

	const grpcID, restID = "6f1c8f3e-2a51-4f6e-9a0b-1d2c3e4f5a60", "0b7f9a1e-3c2d-4e5f-8a6b-7c8d9e0f1a2b"
	e.sim.ResetRequests()
	for i, wantReplay := range []bool{false, true, true} {
		replayed, err := update(grpcID, "from gRPC")
		if err != nil || replayed != wantReplay {
			t.Fatalf("gRPC attempt %d: replayed %v, err %v; want replayed %v", i+1, replayed, err, wantReplay)
		}
	}
	if n := edits(); n != 1 {
		t.Fatalf("%d upstream edits for one gRPC request id sent three times, want 1", n)
	}
	if _, err := update(grpcID, "something else"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("the same request id on a different request: %v, want InvalidArgument", err)
	}

	e.sim.ResetRequests()
	for i, wantReplay := range []bool{false, true} {
		code, replayed := patch(restID, "from REST")
		if code != http.StatusOK || replayed != wantReplay {
			t.Fatalf("REST attempt %d: %d, replayed %v; want 200, replayed %v", i+1, code, replayed, wantReplay)
		}
	}
	if n := edits(); n != 1 {
		t.Fatalf("%d upstream edits for one Idempotency-Key sent twice, want 1", n)
	}
}

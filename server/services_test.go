package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// An answer is the caller's own: a caller (in process, the REST gateway
// or an interceptor) that modifies the services of one ListServices answer
// changes no later answer, though the upstream sends the same listing
// again byte for byte.
func TestListServicesAnswersShareNothing(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/arcgis/admin/services/F":
			_, _ = io.WriteString(w, `{"folderName":"F","description":"d","services":[{"folderName":"F","serviceName":"A","type":"MapServer","description":"first"},{"folderName":"F","serviceName":"B","type":"GPServer"}]}`)
		case "/arcgis/admin/services":
			_, _ = io.WriteString(w, `{"folderName":"/","folders":["F"],"foldersDetail":[{"folderName":"F"}],"services":[]}`)
		default:
			_, _ = io.WriteString(w, `{"status":"error","messages":["not found"],"code":404}`)
		}
	}))
	t.Cleanup(ts.Close)
	up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()), upstream.WithTokenSource(upstream.StaticToken("t")))
	if err != nil {
		t.Fatal(err)
	}
	s := &servicesServer{services: up.Services, locks: statestore.NewMemory()}
	list := func() *adminv1.ListServicesResponse {
		t.Helper()
		resp, err := s.ListServices(context.Background(), &adminv1.ListServicesRequest{Parent: "folders/F"})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	want := proto.Clone(list()).(*adminv1.ListServicesResponse) // its own copy
	if len(want.GetServices()) != 2 {
		t.Fatalf("services: %v", want.GetServices())
	}
	mutated := list()
	for _, svc := range mutated.GetServices() {
		svc.Description = "changed"
		svc.Name = "folders/F/services/X.MapServer"
	}
	if diff := cmp.Diff(want, list(), protocmp.Transform()); diff != "" {
		t.Errorf("after a caller changed its answer (-want +got):\n%s", diff)
	}
}

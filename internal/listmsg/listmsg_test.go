package listmsg_test

import (
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/listmsg"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRestKeepsAllButTheServices(t *testing.T) {
	for _, resp := range []*adminv1.ListServicesResponse{
		{},
		{NextPageToken: "next"},
		{Services: []*adminv1.Service{{Name: "a"}}, NextPageToken: "next"},
		{Services: []*adminv1.Service{{Name: "a"}}},
	} {
		want := proto.Clone(resp).(*adminv1.ListServicesResponse)
		want.Services = nil
		if got := listmsg.Rest(resp); !proto.Equal(got, want) {
			t.Errorf("Rest(%v) = %v, want %v", resp, got, want)
		}
		if len(resp.Services) > 0 && resp.Services[0].Name != "a" {
			t.Errorf("Rest modified its argument: %v", resp)
		}
	}
	if listmsg.ServicesField.Number() != 1 || !listmsg.ServicesField.IsList() {
		t.Fatalf("ServicesField = %v", listmsg.ServicesField.FullName())
	}
}

package listmsg_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/listmsg"
	"github.com/arcgate/arcgate/internal/weakmemo"
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
		if diff := cmp.Diff(want, listmsg.Rest(resp), protocmp.Transform()); diff != "" {
			t.Errorf("Rest(%v) (-want +got):\n%s", resp, diff)
		}
		if len(resp.Services) > 0 && resp.Services[0].Name != "a" {
			t.Errorf("Rest modified its argument: %v", resp)
		}
	}
	if listmsg.ServicesField.Number() != 1 || !listmsg.ServicesField.IsList() {
		t.Fatalf("ServicesField = %v", listmsg.ServicesField.FullName())
	}
}

func TestServicesQualifyLongListsWithoutNil(t *testing.T) {
	long := make([]*adminv1.Service, 8)
	for i := range long {
		long[i] = &adminv1.Service{Name: "s"}
	}
	withNil := append([]*adminv1.Service{nil}, long...)
	for _, tc := range []struct {
		v    any
		want int
	}{
		{&adminv1.ListServicesResponse{Services: long}, 8},
		{&adminv1.ListServicesResponse{Services: long[:7]}, 0},
		{&adminv1.ListServicesResponse{Services: withNil}, 0},
		{long[0], 0},
		{nil, 0},
	} {
		if got := listmsg.Services(tc.v); len(got) != tc.want {
			t.Errorf("Services(%T) = %d services, want %d", tc.v, len(got), tc.want)
		}
	}
}

func TestEncodedComesFromTheCache(t *testing.T) {
	var cache weakmemo.Memo[adminv1.Service, []byte]
	services := []*adminv1.Service{{Name: "a"}, {Name: "bb"}}
	calls := 0
	encode := func(s *adminv1.Service) ([]byte, error) { calls++; return []byte(s.GetName()), nil }
	for range 2 {
		got, total, err := listmsg.Encoded(services, &cache, encode)
		if err != nil || len(got) != 2 || string(got[0]) != "a" || string(got[1]) != "bb" || total != 3 {
			t.Fatalf("Encoded = %q, %d, %v", got, total, err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d encodings for 2 services read twice, want 2", calls)
	}
	boom := errors.New("boom")
	if _, _, err := listmsg.Encoded([]*adminv1.Service{{Name: "c"}}, &cache, func(*adminv1.Service) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

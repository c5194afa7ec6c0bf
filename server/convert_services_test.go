package server

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// TestSummariesConvertAndAllocateOnce checks what a listing converts to and
// that converting it allocates the messages and their names at once (one
// allocation for the messages, one for the slice, one for the resource
// names), not one message and one name at a time.
func TestSummariesConvertAndAllocateOnce(t *testing.T) {
	in := make([]upstream.ServiceSummary, 20)
	for i := range in {
		in[i] = upstream.ServiceSummary{FolderName: "/", ServiceName: "S" + strconv.Itoa(i), Type: "MapServer", Description: "d", ID: "id"}
	}
	in[1].FolderName = "Other"
	out := summaries("Bulk", in)
	want0 := &adminv1.Service{Name: "folders/Bulk/services/S0.MapServer", Folder: "Bulk", ServiceName: "S0",
		Type: adminv1.ServiceType_SERVICE_TYPE_MAP_SERVER, TypeName: "MapServer", Description: "d", Uid: "id"}
	if len(out) != 20 || !proto.Equal(out[0], want0) || out[1].GetName() != "folders/Other/services/S1.MapServer" {
		t.Fatalf("summaries = %v", out[:2])
	}
	in[2].FolderName, in[2].Type = "", "GPServer"
	for i, s := range summaries("", in) { // the names as resourceName spells them
		f := in[i].FolderName
		if f == "/" {
			f = ""
		}
		if want := (serviceRef{Folder: f, Name: in[i].ServiceName, Type: in[i].Type}).resourceName(); s.GetName() != want {
			t.Errorf("service %d: name %q, want %q", i, s.GetName(), want)
		}
	}
	if got := testing.AllocsPerRun(20, func() { summaries("Bulk", in) }); got > 3 {
		t.Errorf("summaries of 20 entries: %v allocations, want at most 3", got)
	}
}

// TestSplitList checks splitList against strings.Split and TrimSpace
// (what it did before), and that it allocates once.
func TestSplitList(t *testing.T) {
	ref := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	for _, s := range []string{"", " ", ",", ",,, ,", "Map", "Map,Query,Data", " Map , ,Query,", "a,,b", "\tx\n,y"} {
		got, want := splitList(s), ref(s)
		if !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("splitList(%q) = %#v, want %#v", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(10, func() { _ = splitList("Map,Query,Data,KmlServer") }); n != 1 {
		t.Errorf("splitList: %v allocations, want 1", n)
	}
}

// TestItemInfoNameIsResourceName checks that an item info's name is its
// service's resource name and the suffix.
func TestItemInfoNameIsResourceName(t *testing.T) {
	for _, ref := range []serviceRef{{Name: "A", Type: "MapServer"}, {Folder: "F", Name: "B", Type: "GPServer"}} {
		if got, want := itemInfoName(ref), ref.resourceName()+itemInfoSuffix; got != want {
			t.Errorf("itemInfoName(%+v) = %q, want %q", ref, got, want)
		}
	}
}

package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// TestItemInfoTagFormsRoundTrip reads tags kept upstream in each form (a
// comma-separated string, a list, a list holding one comma-separated
// string), writes the tags read back unchanged (accepted: none holds a
// comma), then writes other tags, and checks that upstream keeps its form.
func TestItemInfoTagFormsRoundTrip(t *testing.T) {
	t.Parallel()
	read := []string{"Local Government", "Public Safety", "Addresses"}
	for _, tc := range []struct {
		name    string
		tags    string // as upstream keeps them
		changed string // upstream's form of the tags "Roads", "Bridges"
	}{
		{"string", `"Local Government,Public Safety,Addresses"`, `"Roads,Bridges"`},
		{"list", `["Local Government","Public Safety","Addresses"]`, `["Roads","Bridges"]`},
		{"list of one comma-separated string", `["Local Government,Public Safety,Addresses"]`, `["Roads,Bridges"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := simulator.New(simulator.Config{})
			ts := httptest.NewServer(sim)
			t.Cleanup(ts.Close)
			up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()),
				upstream.WithCredentials(simulator.DefaultUsername, simulator.DefaultPassword))
			if err != nil {
				t.Fatal(err)
			}
			srv := &itemInfoServer{itemInfo: up.ItemInfo, locks: statestore.NewMemory()}
			ctx := context.Background()
			const name = "services/SampleWorldCities.MapServer/itemInfo"
			itemInfoURL := ts.URL + sim.AdminPath() + "services/SampleWorldCities.MapServer/iteminfo"
			// stored returns the tags as the simulator keeps them.
			stored := func() string {
				t.Helper()
				resp, err := ts.Client().Get(itemInfoURL + "?" + url.Values{"f": {"json"}, "token": {sim.IssueToken(time.Hour)}}.Encode())
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				var obj map[string]json.RawMessage
				if err := json.Unmarshal(b, &obj); err != nil {
					t.Fatalf("%v: %s", err, b)
				}
				return string(obj["tags"])
			}
			resp, err := ts.Client().PostForm(itemInfoURL+"/edit", url.Values{
				"f": {"json"}, "token": {sim.IssueToken(time.Hour)},
				"serviceItemInfo": {`{"title":"Streets","tags":` + tc.tags + `}`},
			})
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if got := stored(); got != tc.tags {
				t.Fatalf("simulator keeps tags %s, want %s", got, tc.tags)
			}

			got, err := srv.GetItemInfo(ctx, &adminv1.GetItemInfoRequest{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.GetTags(), read) {
				t.Fatalf("GetItemInfo tags %q, want %q", got.GetTags(), read)
			}
			mask := &fieldmaskpb.FieldMask{Paths: []string{"tags"}}
			for _, step := range []struct {
				name string
				tags []string
				want string
			}{
				{"the tags read, written back", got.GetTags(), tc.tags},
				{"other tags", []string{"Roads", "Bridges"}, tc.changed},
			} {
				upd, err := srv.UpdateItemInfo(ctx, &adminv1.UpdateItemInfoRequest{
					ItemInfo: &adminv1.ItemInfo{Name: name, Tags: step.tags}, UpdateMask: mask,
				})
				if err != nil {
					t.Fatalf("%s: UpdateItemInfo: %v", step.name, err)
				}
				if !slices.Equal(upd.GetTags(), step.tags) {
					t.Errorf("%s: UpdateItemInfo answered tags %q, want %q", step.name, upd.GetTags(), step.tags)
				}
				if got := stored(); got != step.want {
					t.Errorf("%s: simulator keeps tags %s, want %s", step.name, got, step.want)
				}
			}
		})
	}
}

package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// TestReadBackFailureSaysTheWriteWasApplied fails every upstream request
// that follows a successful write (the read that builds the answer): the
// call must not look like a failed write, but say that the change was
// applied (reason WRITE_APPLIED, naming the resource).
func TestReadBackFailureSaysTheWriteWasApplied(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		write    string // suffix of the upstream write's path
		resource string
		call     func(ctx context.Context, up *upstream.Client) error
	}{
		{"CreateFolder", "/createFolder", "folders/Fresh", func(ctx context.Context, up *upstream.Client) error {
			s := &servicesServer{services: up.Services, locks: statestore.NewMemory()}
			_, err := s.CreateFolder(ctx, &adminv1.CreateFolderRequest{FolderId: "Fresh", Folder: &adminv1.Folder{Description: "d"}})
			return err
		}},
		{"UpdateFolder", "/editFolder", "folders/Maps", func(ctx context.Context, up *upstream.Client) error {
			s := &servicesServer{services: up.Services, locks: statestore.NewMemory()}
			_, err := s.UpdateFolder(ctx, &adminv1.UpdateFolderRequest{Folder: &adminv1.Folder{Name: "folders/Maps", Description: "d"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
			return err
		}},
		{"UpdateItemInfo", "/iteminfo/edit", "services/SampleWorldCities.MapServer/itemInfo", func(ctx context.Context, up *upstream.Client) error {
			s := &itemInfoServer{itemInfo: up.ItemInfo, locks: statestore.NewMemory()}
			_, err := s.UpdateItemInfo(ctx, &adminv1.UpdateItemInfoRequest{ItemInfo: &adminv1.ItemInfo{Name: "services/SampleWorldCities.MapServer/itemInfo", Title: "t"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return err
		}},
		{"UpdateRole", "/roles/update", "roles/editors", func(ctx context.Context, up *upstream.Client) error {
			_, err := newRolesServer(up).UpdateRole(ctx, &adminv1.UpdateRoleRequest{Role: &adminv1.Role{Name: "roles/editors", Description: "d"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
			return err
		}},
		{"UpdateUsageStatisticsSettings", "/settings/edit", usageSettingsName, func(ctx context.Context, up *upstream.Client) error {
			_, err := newUsageReportsServer(up).UpdateUsageStatisticsSettings(ctx, &adminv1.UpdateUsageStatisticsSettingsRequest{
				UsageStatisticsSettings: &adminv1.UsageStatisticsSettings{Name: usageSettingsName, Enabled: true},
				UpdateMask:              &fieldmaskpb.FieldMask{Paths: []string{"enabled"}}})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := simulator.New(simulator.Config{})
			var written atomic.Bool
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if written.Load() && !strings.Contains(r.URL.Path, "generateToken") {
					http.Error(w, "unavailable", http.StatusServiceUnavailable)
					return
				}
				rec := httptest.NewRecorder()
				sim.ServeHTTP(rec, r)
				if strings.HasSuffix(r.URL.Path, tc.write) && rec.Code == http.StatusOK && !strings.Contains(rec.Body.String(), `"error"`) {
					written.Store(true)
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
			}))
			t.Cleanup(ts.Close)
			up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()),
				upstream.WithCredentials(simulator.DefaultUsername, simulator.DefaultPassword))
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(context.Background(), up)
			if !written.Load() {
				t.Fatalf("the write (%s) never succeeded upstream: %v", tc.write, err)
			}
			st := status.Convert(err)
			if st.Code() == codes.OK {
				t.Fatal("no error although the read-back failed")
			}
			var info *errdetails.ErrorInfo
			for _, d := range st.Details() {
				if i, ok := d.(*errdetails.ErrorInfo); ok {
					info = i
				}
			}
			if info.GetReason() != ReasonWriteApplied || info.GetMetadata()["resource"] != tc.resource ||
				!strings.Contains(st.Message(), "was applied") {
				t.Fatalf("error %v (%s, %v): want reason %s naming %s, saying the change was applied",
					st.Code(), st.Message(), info, ReasonWriteApplied, tc.resource)
			}
		})
	}
}

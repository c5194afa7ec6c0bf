package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
)

// etagCase is one resource with an etag (AIP-154): how to read it, change
// it, and (when it has a Delete) delete it, over gRPC and REST.
type etagCase struct {
	name string
	// create makes the resource (nil: it is seeded).
	create func(c context.Context, conn *grpc.ClientConn) error
	get    func(c context.Context, conn *grpc.ClientConn) (etag string, err error)
	// update changes the resource to its n-th value, sending etag.
	update func(c context.Context, conn *grpc.ClientConn, etag string, n int) (newEtag string, err error)
	// restPath is the resource's REST path; restBody its n-th PATCH body.
	restPath string
	restBody func(etag string, n int) map[string]any
	// del deletes the resource, sending etag (nil: no Delete method).
	del func(c context.Context, conn *grpc.ClientConn, etag string) error
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

var etagCases = []etagCase{
	{
		name: "folder",
		create: func(c context.Context, conn *grpc.ClientConn) error {
			_, err := adminv1.NewServicesServiceClient(conn).CreateFolder(c, &adminv1.CreateFolderRequest{FolderId: "EtagFolder", Folder: &adminv1.Folder{Description: "etag 0"}})
			return err
		},
		get: func(c context.Context, conn *grpc.ClientConn) (string, error) {
			f, err := adminv1.NewServicesServiceClient(conn).GetFolder(c, &adminv1.GetFolderRequest{Name: "folders/EtagFolder"})
			return f.GetEtag(), err
		},
		update: func(c context.Context, conn *grpc.ClientConn, etag string, n int) (string, error) {
			f, err := adminv1.NewServicesServiceClient(conn).UpdateFolder(c, &adminv1.UpdateFolderRequest{
				Folder: &adminv1.Folder{Name: "folders/EtagFolder", Description: fmt.Sprint("etag ", n), Etag: etag}, UpdateMask: mask("description")})
			return f.GetEtag(), err
		},
		restPath: "/v1/folders/EtagFolder",
		restBody: func(etag string, n int) map[string]any {
			return map[string]any{"description": fmt.Sprint("etag ", n), "etag": etag}
		},
		del: func(c context.Context, conn *grpc.ClientConn, etag string) error {
			_, err := done[emptypb.Empty](c, conn)(adminv1.NewServicesServiceClient(conn).DeleteFolder(c, &adminv1.DeleteFolderRequest{Name: "folders/EtagFolder", Etag: etag}))
			return err
		},
	},
	{
		name: "service",
		create: func(c context.Context, conn *grpc.ClientConn) error {
			_, err := done[adminv1.Service](c, conn)(adminv1.NewServicesServiceClient(conn).CreateService(c, &adminv1.CreateServiceRequest{ServiceId: "EtagService.MapServer", Service: &adminv1.Service{Description: "etag 0"}}))
			return err
		},
		get: func(c context.Context, conn *grpc.ClientConn) (string, error) {
			s, err := adminv1.NewServicesServiceClient(conn).GetService(c, &adminv1.GetServiceRequest{Name: "services/EtagService.MapServer"})
			return s.GetEtag(), err
		},
		update: func(c context.Context, conn *grpc.ClientConn, etag string, n int) (string, error) {
			s, err := done[adminv1.Service](c, conn)(adminv1.NewServicesServiceClient(conn).UpdateService(c, &adminv1.UpdateServiceRequest{
				Service: &adminv1.Service{Name: "services/EtagService.MapServer", Description: fmt.Sprint("etag ", n), Etag: etag}, UpdateMask: mask("description")}))
			return s.GetEtag(), err
		},
		restPath: "/v1/services/EtagService.MapServer",
		restBody: func(etag string, n int) map[string]any {
			return map[string]any{"description": fmt.Sprint("etag ", n), "etag": etag}
		},
		del: func(c context.Context, conn *grpc.ClientConn, etag string) error {
			_, err := done[emptypb.Empty](c, conn)(adminv1.NewServicesServiceClient(conn).DeleteService(c, &adminv1.DeleteServiceRequest{Name: "services/EtagService.MapServer", Etag: etag}))
			return err
		},
	},
	{
		name: "item info",
		get: func(c context.Context, conn *grpc.ClientConn) (string, error) {
			i, err := adminv1.NewItemInfoServiceClient(conn).GetItemInfo(c, &adminv1.GetItemInfoRequest{Name: "folders/Maps/services/Roads.MapServer/itemInfo"})
			return i.GetEtag(), err
		},
		update: func(c context.Context, conn *grpc.ClientConn, etag string, n int) (string, error) {
			i, err := adminv1.NewItemInfoServiceClient(conn).UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{
				ItemInfo: &adminv1.ItemInfo{Name: "folders/Maps/services/Roads.MapServer/itemInfo", Description: fmt.Sprint("etag ", n), Etag: etag}, UpdateMask: mask("description")})
			return i.GetEtag(), err
		},
		restPath: "/v1/folders/Maps/services/Roads.MapServer/itemInfo",
		restBody: func(etag string, n int) map[string]any {
			return map[string]any{"description": fmt.Sprint("etag ", n), "etag": etag}
		},
	},
	{
		name: "usage report",
		create: func(c context.Context, conn *grpc.ClientConn) error {
			_, err := adminv1.NewUsageReportsServiceClient(conn).CreateUsageReport(c, &adminv1.CreateUsageReportRequest{UsageReportId: "etagreport", UsageReport: &adminv1.UsageReport{
				Since:   adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_MONTH,
				Queries: []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/"}, MetricNames: []string{"RequestCount"}}}}})
			return err
		},
		get: func(c context.Context, conn *grpc.ClientConn) (string, error) {
			r, err := adminv1.NewUsageReportsServiceClient(conn).GetUsageReport(c, &adminv1.GetUsageReportRequest{Name: "usageReports/etagreport"})
			return r.GetEtag(), err
		},
		update: func(c context.Context, conn *grpc.ClientConn, etag string, n int) (string, error) {
			r, err := adminv1.NewUsageReportsServiceClient(conn).UpdateUsageReport(c, &adminv1.UpdateUsageReportRequest{
				UsageReport: &adminv1.UsageReport{Name: "usageReports/etagreport", AggregationInterval: durationpb.New(time.Duration(n) * time.Hour), Etag: etag},
				UpdateMask:  mask("aggregation_interval")})
			return r.GetEtag(), err
		},
		restPath: "/v1/usageReports/etagreport",
		restBody: func(etag string, n int) map[string]any {
			return map[string]any{"aggregationInterval": fmt.Sprint(n*3600, "s"), "etag": etag}
		},
		del: func(c context.Context, conn *grpc.ClientConn, etag string) error {
			_, err := adminv1.NewUsageReportsServiceClient(conn).DeleteUsageReport(c, &adminv1.DeleteUsageReportRequest{Name: "usageReports/etagreport", Etag: etag})
			return err
		},
	},
	{
		name: "usage statistics settings",
		get: func(c context.Context, conn *grpc.ClientConn) (string, error) {
			s, err := adminv1.NewUsageReportsServiceClient(conn).GetUsageStatisticsSettings(c, &adminv1.GetUsageStatisticsSettingsRequest{})
			return s.GetEtag(), err
		},
		update: func(c context.Context, conn *grpc.ClientConn, etag string, n int) (string, error) {
			s, err := adminv1.NewUsageReportsServiceClient(conn).UpdateUsageStatisticsSettings(c, &adminv1.UpdateUsageStatisticsSettingsRequest{
				UsageStatisticsSettings: &adminv1.UsageStatisticsSettings{MaxHistory: durationpb.New(time.Duration(n+10) * 24 * time.Hour), Etag: etag},
				UpdateMask:              mask("max_history")})
			return s.GetEtag(), err
		},
		restPath: "/v1/usageStatisticsSettings",
		restBody: func(etag string, n int) map[string]any {
			return map[string]any{"maxHistory": fmt.Sprint((n+10)*86400, "s"), "etag": etag}
		},
	},
	{
		name: "role",
		create: func(c context.Context, conn *grpc.ClientConn) error {
			_, err := adminv1.NewRolesServiceClient(conn).CreateRole(c, &adminv1.CreateRoleRequest{RoleId: "etagrole", Role: &adminv1.Role{Description: "etag 0"}})
			return err
		},
		get: func(c context.Context, conn *grpc.ClientConn) (string, error) {
			r, err := adminv1.NewRolesServiceClient(conn).GetRole(c, &adminv1.GetRoleRequest{Name: "roles/etagrole"})
			return r.GetEtag(), err
		},
		update: func(c context.Context, conn *grpc.ClientConn, etag string, n int) (string, error) {
			r, err := adminv1.NewRolesServiceClient(conn).UpdateRole(c, &adminv1.UpdateRoleRequest{
				Role: &adminv1.Role{Name: "roles/etagrole", Description: fmt.Sprint("etag ", n), Etag: etag}, UpdateMask: mask("description")})
			return r.GetEtag(), err
		},
		restPath: "/v1/roles/etagrole",
		restBody: func(etag string, n int) map[string]any {
			return map[string]any{"description": fmt.Sprint("etag ", n), "etag": etag}
		},
		del: func(c context.Context, conn *grpc.ClientConn, etag string) error {
			_, err := adminv1.NewRolesServiceClient(conn).DeleteRole(c, &adminv1.DeleteRoleRequest{Name: "roles/etagrole", Etag: etag})
			return err
		},
	},
}

// ignoreEtag leaves the item info's etag out of comparisons of its fields
// (TestEtags checks the etags).
var ignoreEtag = protocmp.IgnoreFields(&adminv1.ItemInfo{}, "etag")

// etagShape is a weak entity tag (RFC 9110), as AIP-154 asks etags to be.
var etagShape = regexp.MustCompile(`^W/"[A-Za-z0-9_-]+"$`)

// upstreamWriteOps are the last path segments of the upstream operations
// that change something.
var upstreamWriteOps = map[string]bool{
	"add": true, "addUsersToRole": true, "assignPrivilege": true, "createFolder": true, "createService": true,
	"delete": true, "deleteFolder": true, "edit": true, "editFolder": true, "remove": true,
	"removeUsersFromRole": true, "start": true, "stop": true, "update": true,
}

// noUpstreamWrites fails if the simulator received a write since its log
// was last reset.
func noUpstreamWrites(t *testing.T, sim *simulator.Server, what string) {
	t.Helper()
	for _, r := range sim.Requests() {
		if upstreamWriteOps[path.Base(r.Path)] {
			t.Errorf("%s: upstream received the write %s %s", what, r.Method, r.Path)
		}
	}
}

// TestEtags: for each resource with an etag, Get gives one; Update with it
// succeeds and gives a new one; Update (gRPC and REST) and Delete with a
// stale one are ABORTED (409 over REST), reason ETAG_MISMATCH with the
// current etag in the metadata, and nothing is written upstream; Delete
// with the current etag deletes.
func TestEtags(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	for _, tc := range etagCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.create != nil {
				if err := tc.create(c, e.conn); err != nil {
					t.Fatal(err)
				}
			}
			etag0, err := tc.get(c, e.conn)
			if err != nil {
				t.Fatal(err)
			}
			if !etagShape.MatchString(etag0) {
				t.Fatalf("Get: etag %q, want a weak entity tag W/\"...\"", etag0)
			}
			if again, err := tc.get(c, e.conn); err != nil || again != etag0 {
				t.Fatalf("a second Get of the unchanged resource: etag %q, %v; want %q", again, err, etag0)
			}

			etag1, err := tc.update(c, e.conn, etag0, 1)
			if err != nil {
				t.Fatalf("Update with the current etag: %v", err)
			}
			if etag1 == etag0 || !etagShape.MatchString(etag1) {
				t.Fatalf("Update answered etag %q; want a new one (was %q)", etag1, etag0)
			}
			if got, err := tc.get(c, e.conn); err != nil || got != etag1 {
				t.Fatalf("Get after the update: etag %q, %v; want the update's %q", got, err, etag1)
			}

			// A stale etag over gRPC.
			e.sim.ResetRequests()
			_, err = tc.update(c, e.conn, etag0, 2)
			info := wantCode(t, err, codes.Aborted)
			if info.GetReason() != "ETAG_MISMATCH" || info.GetMetadata()["currentEtag"] != etag1 {
				t.Errorf("stale Update: ErrorInfo %v; want reason ETAG_MISMATCH, currentEtag %q", info, etag1)
			}
			noUpstreamWrites(t, e.sim, "stale Update")

			// A stale etag over REST: 409.
			e.sim.ResetRequests()
			r := e.do(t, http.MethodPatch, tc.restPath, tc.restBody(etag0, 3))
			reason, md := restError(t, r, http.StatusConflict, codes.Aborted)
			if reason != "ETAG_MISMATCH" || md["currentEtag"] != etag1 {
				t.Errorf("stale REST PATCH: reason %q, metadata %v; want ETAG_MISMATCH, currentEtag %q", reason, md, etag1)
			}
			noUpstreamWrites(t, e.sim, "stale REST PATCH")
			if got, err := tc.get(c, e.conn); err != nil || got != etag1 {
				t.Fatalf("Get after the refused updates: etag %q, %v; want %q (unchanged)", got, err, etag1)
			}

			// The REST update with the current etag goes through.
			r = e.doOp(t, http.MethodPatch, tc.restPath, tc.restBody(etag1, 4))
			if r.Status != http.StatusOK {
				t.Fatalf("REST PATCH with the current etag: HTTP %d %s", r.Status, r.Raw)
			}
			etag2, _ := r.Body["etag"].(string)
			if got, err := tc.get(c, e.conn); err != nil || got != etag2 || etag2 == etag1 {
				t.Fatalf("REST PATCH answered etag %q, Get gives %q (%v); want equal and not %q", etag2, got, err, etag1)
			}

			if tc.del == nil {
				return
			}
			e.sim.ResetRequests()
			wantCode(t, tc.del(c, e.conn, etag1), codes.Aborted)
			noUpstreamWrites(t, e.sim, "stale Delete")
			e.sim.ResetRequests()
			r = e.do(t, http.MethodDelete, tc.restPath+"?etag="+url.QueryEscape(etag0), nil)
			if reason, md := restError(t, r, http.StatusConflict, codes.Aborted); reason != "ETAG_MISMATCH" || md["currentEtag"] != etag2 {
				t.Errorf("stale REST DELETE: reason %q, metadata %v; want ETAG_MISMATCH, currentEtag %q", reason, md, etag2)
			}
			noUpstreamWrites(t, e.sim, "stale REST DELETE")
			if got, err := tc.get(c, e.conn); err != nil || got != etag2 {
				t.Fatalf("after the refused deletes: etag %q, %v; want the resource still there, etag %q", got, err, etag2)
			}
			if err := tc.del(c, e.conn, etag2); err != nil {
				t.Fatalf("Delete with the current etag: %v", err)
			}
			_, err = tc.get(c, e.conn)
			wantCode(t, err, codes.NotFound)
		})
	}
}

// TestEtagsAgreeAcrossReplicas: two arcgates in front of one upstream give
// every resource the same etag, and an etag read through one is accepted
// by the other.
func TestEtagsAgreeAcrossReplicas(t *testing.T) {
	envs := startReplicas(t, []statestore.Store{statestore.NewMemory(), statestore.NewMemory()})
	c := ctx(t)
	for _, tc := range etagCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.create != nil {
				if err := tc.create(c, envs[0].conn); err != nil {
					t.Fatal(err)
				}
			}
			a, err := tc.get(c, envs[0].conn)
			if err != nil {
				t.Fatal(err)
			}
			b, err := tc.get(c, envs[1].conn)
			if err != nil {
				t.Fatal(err)
			}
			if a == "" || a != b {
				t.Fatalf("replica 0 gives etag %q, replica 1 %q", a, b)
			}
			if _, err := tc.update(c, envs[1].conn, a, 1); err != nil {
				t.Fatalf("Update through replica 1 with replica 0's etag: %v", err)
			}
		})
	}
}

// TestListEtagsMatchGet: a listing gives each resource the etag Get gives.
func TestListEtagsMatchGet(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	folders, err := e.services.ListFolders(c, &adminv1.ListFoldersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders.GetFolders() {
		got, err := e.services.GetFolder(c, &adminv1.GetFolderRequest{Name: f.GetName()})
		if err != nil || got.GetEtag() != f.GetEtag() || f.GetEtag() == "" {
			t.Errorf("%s: listed with etag %q, Get gives %q (%v)", f.GetName(), f.GetEtag(), got.GetEtag(), err)
		}
	}
	svcs, err := e.services.ListServices(c, &adminv1.ListServicesRequest{Parent: "folders/Maps", View: adminv1.ServiceView_SERVICE_VIEW_FULL})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.GetServices() {
		got, err := e.services.GetService(c, &adminv1.GetServiceRequest{Name: s.GetName()})
		if err != nil || got.GetEtag() != s.GetEtag() || s.GetEtag() == "" {
			t.Errorf("%s: listed with etag %q, Get gives %q (%v)", s.GetName(), s.GetEtag(), got.GetEtag(), err)
		}
	}
	ur := adminv1.NewUsageReportsServiceClient(e.conn)
	reports, err := ur.ListUsageReports(c, &adminv1.ListUsageReportsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports.GetUsageReports() {
		got, err := ur.GetUsageReport(c, &adminv1.GetUsageReportRequest{Name: r.GetName()})
		if err != nil || got.GetEtag() != r.GetEtag() || r.GetEtag() == "" {
			t.Errorf("%s: listed with etag %q, Get gives %q (%v)", r.GetName(), r.GetEtag(), got.GetEtag(), err)
		}
	}
	roles := adminv1.NewRolesServiceClient(e.conn)
	page, err := roles.ListRoles(c, &adminv1.ListRolesRequest{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.GetRoles() {
		got, err := roles.GetRole(c, &adminv1.GetRoleRequest{Name: r.GetName()})
		if err != nil || got.GetEtag() != r.GetEtag() || r.GetEtag() == "" {
			t.Errorf("%s: listed with etag %q, Get gives %q (%v)", r.GetName(), r.GetEtag(), got.GetEtag(), err)
		}
	}
}

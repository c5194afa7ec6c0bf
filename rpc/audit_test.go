package rpc

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// TestAuditNamesResource: every audited method (every write and admin
// method) names its resource in the audit line, whether the call succeeds
// or fails; role membership and privilege changes add the users or the
// privilege. The table must list every audited method.
func TestAuditNamesResource(t *testing.T) {
	const svc = "folders/Maps/services/Roads.MapServer"
	// request_id is an idempotency key: never the id of the resource.
	const requestID = "5f1c2a3e-8b4d-4c6e-9f70-1a2b3c4d5e6f"
	type call struct {
		req, resp proto.Message // resp: the answer on success
		resource  string
		extra     map[string]string
	}
	calls := map[string]call{
		"ServicesService/CreateFolder":       {&adminv1.CreateFolderRequest{FolderId: "Planning"}, nil, "folders/Planning", map[string]string{"id": "Planning"}},
		"ServicesService/UpdateFolder":       {&adminv1.UpdateFolderRequest{Folder: &adminv1.Folder{Name: "folders/Maps"}}, nil, "folders/Maps", nil},
		"ServicesService/DeleteFolder":       {&adminv1.DeleteFolderRequest{Name: "folders/Maps"}, nil, "folders/Maps", nil},
		"ServicesService/CreateService":      {&adminv1.CreateServiceRequest{Parent: "folders/Maps", ServiceId: "Zoning.MapServer"}, nil, "folders/Maps/services/Zoning.MapServer", map[string]string{"id": "Zoning.MapServer"}},
		"ServicesService/UpdateService":      {&adminv1.UpdateServiceRequest{Service: &adminv1.Service{Name: svc}}, nil, svc, nil},
		"ServicesService/DeleteService":      {&adminv1.DeleteServiceRequest{Name: "services/A.MapServer"}, nil, "services/A.MapServer", nil},
		"ServicesService/StartService":       {&adminv1.StartServiceRequest{Name: svc, RequestId: requestID}, nil, svc, nil},
		"ServicesService/StopService":        {&adminv1.StopServiceRequest{Name: svc}, nil, svc, nil},
		"ServicesService/BatchStartServices": {&adminv1.BatchStartServicesRequest{Names: []string{svc, "services/A.MapServer"}}, nil, svc + ",services/A.MapServer", nil},
		"ServicesService/BatchStopServices":  {&adminv1.BatchStopServicesRequest{Names: []string{svc}}, nil, svc, nil},
		"ItemInfoService/UpdateItemInfo": {&adminv1.UpdateItemInfoRequest{ItemInfo: &adminv1.ItemInfo{Name: svc + "/itemInfo"}}, nil,
			svc + "/itemInfo", nil},
		"ItemInfoService/UpdateThumbnail": {&adminv1.UpdateThumbnailRequest{Name: svc + "/itemInfo/thumbnail"}, nil, svc + "/itemInfo/thumbnail", nil},
		"JobsService/CancelJob":           {&adminv1.CancelJobRequest{Name: svc + "/jobs/j1"}, nil, svc + "/jobs/j1", nil},
		"JobsService/DeleteJob":           {&adminv1.DeleteJobRequest{Name: svc + "/jobs/j1"}, nil, svc + "/jobs/j1", nil},
		"JobsService/PurgeJobs":           {&adminv1.PurgeJobsRequest{Parent: svc}, nil, svc, nil},
		"RolesService/CreateRole":         {&adminv1.CreateRoleRequest{RoleId: "planners"}, nil, "roles/planners", map[string]string{"id": "planners"}},
		"RolesService/UpdateRole":         {&adminv1.UpdateRoleRequest{Role: &adminv1.Role{Name: "roles/editors"}}, nil, "roles/editors", nil},
		"RolesService/DeleteRole":         {&adminv1.DeleteRoleRequest{Name: "roles/editors"}, nil, "roles/editors", nil},
		"RolesService/SetRolePrivilege": {&adminv1.SetRolePrivilegeRequest{Name: "roles/editors/privilege", Privilege: adminv1.Privilege_PRIVILEGE_PUBLISH}, nil,
			"roles/editors/privilege", map[string]string{"privilege": "PRIVILEGE_PUBLISH"}},
		"RolesService/AddRoleUsers": {&adminv1.AddRoleUsersRequest{Role: "roles/editors", Users: []string{"users/alice", "users/bob"}}, nil,
			"roles/editors", map[string]string{"users": "users/alice,users/bob"}},
		"RolesService/RemoveRoleUsers": {&adminv1.RemoveRoleUsersRequest{Role: "roles/editors", Users: []string{"users/alice"}}, nil,
			"roles/editors", map[string]string{"users": "users/alice"}},
		"UsageReportsService/CreateUsageReport": {&adminv1.CreateUsageReportRequest{UsageReportId: "weekly"}, nil, "usageReports/weekly", map[string]string{"id": "weekly"}},
		"UsageReportsService/UpdateUsageReport": {&adminv1.UpdateUsageReportRequest{UsageReport: &adminv1.UsageReport{Name: "usageReports/weekly"}}, nil,
			"usageReports/weekly", nil},
		"UsageReportsService/DeleteUsageReport":             {&adminv1.DeleteUsageReportRequest{Name: "usageReports/weekly"}, nil, "usageReports/weekly", nil},
		"UsageReportsService/UpdateUsageStatisticsSettings": {&adminv1.UpdateUsageStatisticsSettingsRequest{UsageStatisticsSettings: &adminv1.UsageStatisticsSettings{}}, nil, "usageStatisticsSettings", nil},
		// A generated id: the collection when the call fails, the new
		// report when it succeeds.
		"UsageReportsService/CreateUsageReport#generated": {&adminv1.CreateUsageReportRequest{RequestId: requestID},
			&adminv1.UsageReport{Name: "usageReports/0123abcd"}, "usageReports/0123abcd", nil},
	}
	audited := 0
	for method, scope := range MethodScopes() {
		if scope < adminv1.Scope_SCOPE_WRITE {
			continue
		}
		audited++
		if _, ok := calls[strings.TrimPrefix(method, "/arcgate.admin.v1.")]; !ok {
			t.Errorf("audited method %s missing from the table", method)
		}
	}
	if audited+1 != len(calls) {
		t.Errorf("%d audited methods, %d in the table (one twice)", audited, len(calls)-1)
	}

	logs := &syncBuffer{}
	g, err := NewGuard(GuardConfig{Credentials: testCredentials(t), RateLimit: NoRateLimit,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-api-key", adminKey))
	for name, c := range calls {
		method := "/arcgate.admin.v1." + strings.TrimSuffix(name, "#generated")
		for _, fail := range []bool{false, true} {
			t.Run(name, func(t *testing.T) {
				resource := c.resource
				if strings.HasSuffix(name, "#generated") && fail {
					resource = "usageReports"
				}
				before := len(logs.String())
				_, _ = g.UnaryInterceptor(ctx, c.req, &grpc.UnaryServerInfo{FullMethod: method}, func(context.Context, any) (any, error) {
					if fail {
						return nil, status.Error(codes.NotFound, "no")
					}
					return c.resp, nil
				})
				line := decodeJSONLine(t, strings.TrimSpace(logs.String()[before:]))
				if line["msg"] != "audit" || line["method"] != method || line["resource"] != resource {
					t.Fatalf("audit line %v, want resource %q", line, resource)
				}
				for k, v := range c.extra {
					if line[k] != v {
						t.Errorf("%s = %v, want %q", k, line[k], v)
					}
				}
				if _, want := c.extra["id"]; !want && line["id"] != nil {
					t.Errorf("id = %v, want none", line["id"])
				}
			})
		}
	}
}

// TestAuditStreamRequest: a stream's first request reaches the audit line
// as MalformedRequests' handlers receive it (a decodeTarget) and is named
// as the request itself.
func TestAuditStreamRequest(t *testing.T) {
	logs := &syncBuffer{}
	g, err := NewGuard(GuardConfig{Credentials: testCredentials(t), RateLimit: NoRateLimit,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	req := &adminv1.AddRoleUsersRequest{Role: "roles/editors", Users: []string{"users/alice"}}
	g.audit(context.Background(), Caller{ID: "root"}, true, "/arcgate.admin.v1.RolesService/AddRoleUsers", methodRule{}, &decodeTarget{Message: req}, nil, nil, 0)
	line := decodeJSONLine(t, strings.TrimSpace(logs.String()))
	if line["resource"] != "roles/editors" || line["users"] != "users/alice" {
		t.Fatalf("audit line %v", line)
	}
}

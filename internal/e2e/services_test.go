package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

func TestFoldersGRPC(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)

	list, err := e.services.ListFolders(c, &adminv1.ListFoldersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*adminv1.Folder{}
	for _, f := range list.GetFolders() {
		byName[f.GetName()] = f
	}
	sys := byName["folders/System"]
	if sys == nil || !sys.GetIsDefault() || !strings.Contains(sys.GetDescription(), "System folder") {
		t.Fatalf("System folder = %v", sys)
	}
	if f := byName["folders/Maps"]; f == nil || f.GetIsDefault() || f.GetFolderId() != "Maps" {
		t.Fatalf("Maps folder = %v", f)
	}

	// Create (with web encryption, which needs a second upstream call), get, update, delete.
	cr, err := e.services.CreateFolder(c, &adminv1.CreateFolderRequest{FolderId: "Planning", Folder: &adminv1.Folder{Description: "plans", WebEncrypted: true}})
	if err != nil {
		t.Fatal(err)
	}
	if f := cr; f.GetName() != "folders/Planning" || f.GetDescription() != "plans" || !f.GetWebEncrypted() {
		t.Fatalf("created %v", f)
	}
	_, err = e.services.CreateFolder(c, &adminv1.CreateFolderRequest{FolderId: "Planning"})
	if info := wantCode(t, err, codes.AlreadyExists); info.GetReason() != "ALREADY_EXISTS" {
		t.Fatalf("reason %q", info.GetReason())
	}
	up, err := e.services.UpdateFolder(c, &adminv1.UpdateFolderRequest{
		Folder:     &adminv1.Folder{Name: "folders/Planning", Description: "new text", WebEncrypted: false},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f := up; f.GetDescription() != "new text" || !f.GetWebEncrypted() {
		t.Fatalf("update with mask [description] gave %v (web_encrypted must be kept)", f)
	}
	g, err := e.services.GetFolder(c, &adminv1.GetFolderRequest{Name: "folders/planning"}) // case-insensitive like ArcGIS
	if err != nil || g.GetName() != "folders/Planning" {
		t.Fatalf("GetFolder = %v, %v", g, err)
	}
	if _, err := done[emptypb.Empty](c, e.conn)(e.services.DeleteFolder(c, &adminv1.DeleteFolderRequest{Name: "folders/Planning"})); err != nil {
		t.Fatal(err)
	}
	_, err = e.services.GetFolder(c, &adminv1.GetFolderRequest{Name: "folders/Planning"})
	wantCode(t, err, codes.NotFound)
}

func TestDeleteFolderGuards(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)

	_, err := done[emptypb.Empty](c, e.conn)(e.services.DeleteFolder(c, &adminv1.DeleteFolderRequest{Name: "folders/Maps"}))
	info := wantCode(t, err, codes.FailedPrecondition)
	if info.GetReason() != "FOLDER_NOT_EMPTY" || info.GetMetadata()["serviceCount"] == "" {
		t.Fatalf("ErrorInfo %v", info)
	}
	// Nothing was deleted.
	l, err := e.services.ListServices(c, &adminv1.ListServicesRequest{Parent: "folders/Maps"})
	if err != nil || len(l.GetServices()) == 0 {
		t.Fatalf("Maps after refused delete: %v, %v", l, err)
	}
	_, err = done[emptypb.Empty](c, e.conn)(e.services.DeleteFolder(c, &adminv1.DeleteFolderRequest{Name: "folders/System", Force: true}))
	if info := wantCode(t, err, codes.FailedPrecondition); info.GetReason() != "DEFAULT_FOLDER" {
		t.Fatalf("ErrorInfo %v", info)
	}
	if _, err := done[emptypb.Empty](c, e.conn)(e.services.DeleteFolder(c, &adminv1.DeleteFolderRequest{Name: "folders/Maps", Force: true})); err != nil {
		t.Fatal(err)
	}
	all, err := e.services.ListServices(c, &adminv1.ListServicesRequest{Parent: "folders/-", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all.GetServices() {
		if s.GetFolder() == "Maps" {
			t.Fatalf("service %s survived its folder", s.GetName())
		}
	}
}

func TestServicesGRPC(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)

	root, err := e.services.ListServices(c, &adminv1.ListServicesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(root.GetServices()) == 0 || root.GetServices()[0].GetName() != "services/SampleWorldCities.MapServer" {
		t.Fatalf("root services %v", root.GetServices())
	}
	for _, s := range root.GetServices() {
		if s.GetFolder() != "" || !strings.HasPrefix(s.GetName(), "services/") {
			t.Fatalf("root listing holds %v", s)
		}
	}

	// Every folder, paged in pages of 3: each service exactly once, in order.
	seen := map[string]bool{}
	var last, token string
	pages := 0
	for {
		resp, err := e.services.ListServices(c, &adminv1.ListServicesRequest{Parent: "folders/-", PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range resp.GetServices() {
			if seen[s.GetName()] || s.GetName() <= last {
				t.Fatalf("page %d: %s repeated or out of order (after %s)", pages, s.GetName(), last)
			}
			seen[s.GetName()], last = true, s.GetName()
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	for _, want := range []string{"services/SampleWorldCities.MapServer", "folders/System/services/CachingTools.GPServer", "folders/Maps/services/Roads.MapServer"} {
		if !seen[want] {
			t.Errorf("folders/- misses %s (got %d services in %d pages)", want, len(seen), pages)
		}
	}
	if pages < 3 {
		t.Fatalf("only %d pages for %d services", pages, len(seen))
	}
	// A token is bound to its query.
	first, _ := e.services.ListServices(c, &adminv1.ListServicesRequest{Parent: "folders/-", PageSize: 1})
	_, err = e.services.ListServices(c, &adminv1.ListServicesRequest{Parent: "folders/Maps", PageToken: first.GetNextPageToken()})
	wantCode(t, err, codes.InvalidArgument)

	// Full view carries configuration.
	full, err := e.services.ListServices(c, &adminv1.ListServicesRequest{Parent: "folders/System", View: adminv1.ServiceView_SERVICE_VIEW_FULL})
	if err != nil || len(full.GetServices()) == 0 || full.GetServices()[0].GetMaxWaitDuration() == nil {
		t.Fatalf("full view %v, %v", full, err)
	}

	// Get: full configuration and both states.
	g, err := e.services.GetService(c, &adminv1.GetServiceRequest{Name: "services/SampleWorldCities.MapServer"})
	if err != nil {
		t.Fatal(err)
	}
	s := g
	if s.GetType() != adminv1.ServiceType_SERVICE_TYPE_MAP_SERVER || s.GetTypeName() != "MapServer" ||
		s.GetRealTimeState() != adminv1.ServiceState_SERVICE_STATE_STARTED || s.GetConfiguredState() != adminv1.ServiceState_SERVICE_STATE_STARTED ||
		len(s.GetCapabilities()) == 0 || s.GetProperties()["maxRecordCount"] == "" || s.GetMaxInstancesPerNode() == 0 {
		t.Fatalf("GetService = %v", s)
	}
	_, err = e.services.GetService(c, &adminv1.GetServiceRequest{Name: "folders/Maps/services/Nope.MapServer"})
	if info := wantCode(t, err, codes.NotFound); info.GetMetadata()["upstreamCode"] != "404" {
		t.Fatalf("ErrorInfo %v", info)
	}

	// Start and stop a stopped service.
	st, err := done[adminv1.Service](c, e.conn)(e.services.StartService(c, &adminv1.StartServiceRequest{Name: "folders/Maps/services/Roads.MapServer"}))
	if err != nil || st.GetRealTimeState() != adminv1.ServiceState_SERVICE_STATE_STARTED {
		t.Fatalf("start: %v, %v", st, err)
	}
	sp, err := done[adminv1.Service](c, e.conn)(e.services.StopService(c, &adminv1.StopServiceRequest{Name: "folders/Maps/services/Roads.MapServer"}))
	if err != nil || sp.GetConfiguredState() != adminv1.ServiceState_SERVICE_STATE_STOPPED {
		t.Fatalf("stop: %v, %v", sp, err)
	}

	// Create in a folder, update with a mask (unmodelled upstream keys survive), delete.
	cr, err := done[adminv1.Service](c, e.conn)(e.services.CreateService(c, &adminv1.CreateServiceRequest{
		Parent: "folders/Maps", ServiceId: "Zoning.MapServer",
		Service: &adminv1.Service{Description: "zones", Capabilities: []string{"Map", "Query"}, Properties: map[string]string{"maxRecordCount": "2000"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s := cr; s.GetName() != "folders/Maps/services/Zoning.MapServer" || s.GetDescription() != "zones" ||
		s.GetMaxWaitDuration().AsDuration().Seconds() != 60 || s.GetProperties()["maxRecordCount"] != "2000" {
		t.Fatalf("created %v", s)
	}
	_, err = done[adminv1.Service](c, e.conn)(e.services.CreateService(c, &adminv1.CreateServiceRequest{Parent: "folders/Maps", ServiceId: "Zoning.MapServer", Service: &adminv1.Service{}}))
	wantCode(t, err, codes.AlreadyExists)

	before := rawService(t, e, "services/Maps/Zoning.MapServer")
	u, err := done[adminv1.Service](c, e.conn)(e.services.UpdateService(c, &adminv1.UpdateServiceRequest{
		Service: &adminv1.Service{Name: "folders/Maps/services/Zoning.MapServer", Description: "changed", MaxWaitDuration: durationpb.New(90e9),
			Properties: map[string]string{"maxImageWidth": "4096"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description", "max_wait_duration", "properties.maxImageWidth"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s := u; s.GetDescription() != "changed" || s.GetMaxWaitDuration().AsDuration().Seconds() != 90 ||
		s.GetProperties()["maxImageWidth"] != "4096" || s.GetProperties()["maxRecordCount"] != "2000" || len(s.GetCapabilities()) != 2 {
		t.Fatalf("updated %v", s)
	}
	after := rawService(t, e, "services/Maps/Zoning.MapServer")
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("upstream key %q lost by the read-modify-write edit", k)
		}
	}
	_, err = done[adminv1.Service](c, e.conn)(e.services.UpdateService(c, &adminv1.UpdateServiceRequest{Service: &adminv1.Service{Name: "folders/Maps/services/Zoning.MapServer"}}))
	wantCode(t, err, codes.InvalidArgument)
	_, err = done[adminv1.Service](c, e.conn)(e.services.UpdateService(c, &adminv1.UpdateServiceRequest{Service: &adminv1.Service{Name: "folders/Maps/services/Zoning.MapServer"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"real_time_state"}}}))
	wantCode(t, err, codes.InvalidArgument)

	if _, err := done[emptypb.Empty](c, e.conn)(e.services.DeleteService(c, &adminv1.DeleteServiceRequest{Name: "folders/Maps/services/Zoning.MapServer"})); err != nil {
		t.Fatal(err)
	}
	_, err = e.services.GetService(c, &adminv1.GetServiceRequest{Name: "folders/Maps/services/Zoning.MapServer"})
	wantCode(t, err, codes.NotFound)

	// Root folder create and delete.
	if _, err := done[adminv1.Service](c, e.conn)(e.services.CreateService(c, &adminv1.CreateServiceRequest{ServiceId: "Tmp.GPServer", Service: &adminv1.Service{}})); err != nil {
		t.Fatal(err)
	}
	if _, err := done[emptypb.Empty](c, e.conn)(e.services.DeleteService(c, &adminv1.DeleteServiceRequest{Name: "services/Tmp.GPServer"})); err != nil {
		t.Fatal(err)
	}
}

// rawService reads a service's JSON straight from the simulator.
func rawService(t *testing.T, e *env, path string) map[string]any {
	t.Helper()
	r := httpGetJSON(t, e, e.app.UpstreamURL+"/admin/"+path)
	if r["serviceName"] == nil {
		t.Fatalf("simulator %s: %v", path, r)
	}
	return r
}

func TestServicesREST(t *testing.T) {
	e := start(t, simulator.Config{RootFolderName: "/"})

	r := e.do(t, http.MethodGet, "/v1/folders", nil)
	// Default values are omitted: false, "" and 0 do not appear.
	if r.Status != 200 || !strings.Contains(r.Raw, `"isDefault":true`) || strings.Contains(r.Raw, `"webEncrypted":false`) {
		t.Fatalf("GET /v1/folders: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/folders/Maps", nil)
	if r.Status != 200 || r.Body["name"] != "folders/Maps" {
		t.Fatalf("GET folder: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodPost, "/v1/folders?folderId=Parks", map[string]any{"description": "green"})
	if r.Status != 200 || !strings.Contains(r.Raw, `"name":"folders/Parks"`) {
		t.Fatalf("POST folder: %d %s", r.Status, r.Raw)
	}
	r = e.doOp(t, http.MethodPatch, "/v1/folders/Parks", map[string]any{"webEncrypted": true})
	if f := r.Body; r.Status != 200 || f["webEncrypted"] != true || f["description"] != "green" {
		t.Fatalf("PATCH folder (mask from body): %d %s", r.Status, r.Raw)
	}
	r = e.doOp(t, http.MethodDelete, "/v1/folders/Parks", nil)
	if r.Status != 200 {
		t.Fatalf("DELETE folder: %d %s", r.Status, r.Raw)
	}
	r = e.doOp(t, http.MethodDelete, "/v1/folders/Maps", nil)
	if reason, _ := restError(t, r, 400, codes.FailedPrecondition); reason != "FOLDER_NOT_EMPTY" {
		t.Fatalf("reason %s", reason)
	}

	r = e.do(t, http.MethodGet, "/v1/services", nil)
	if r.Status != 200 || !strings.Contains(r.Raw, `"name":"services/SampleWorldCities.MapServer"`) || strings.Contains(r.Raw, `"folder":`) {
		t.Fatalf("GET /v1/services (root folderName \"/\"): %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/folders/System/services?pageSize=2", nil)
	if r.Status != 200 || len(r.Body["services"].([]any)) != 2 || r.Body["nextPageToken"] == "" {
		t.Fatalf("GET folder services paged: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/folders/-/services?pageSize=1000", nil)
	if r.Status != 200 || !strings.Contains(r.Raw, "folders/Utilities/services/") || !strings.Contains(r.Raw, `"services/SampleWorldCities.MapServer"`) {
		t.Fatalf("GET all services: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/services/SampleWorldCities.MapServer", nil)
	if s := r.Body; r.Status != 200 || s["type"] != "SERVICE_TYPE_MAP_SERVER" || s["realTimeState"] != "SERVICE_STATE_STARTED" || s["maxWaitDuration"] == nil {
		t.Fatalf("GET service: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/folders/System/services/CachingTools.GPServer", nil)
	if r.Status != 200 || !strings.Contains(r.Raw, `"typeName":"GPServer"`) {
		t.Fatalf("GET folder service: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/services/Missing.MapServer", nil)
	if reason, md := restError(t, r, 404, codes.NotFound); reason != "NOT_FOUND" || md["upstreamCode"] != "404" {
		t.Fatalf("reason %s %v", reason, md)
	}
	r = e.doOp(t, http.MethodPost, "/v1/folders/Maps/services?serviceId=Trails.MapServer", map[string]any{"description": "trails"})
	if r.Status != 200 || !strings.Contains(r.Raw, `"name":"folders/Maps/services/Trails.MapServer"`) {
		t.Fatalf("POST service: %d %s", r.Status, r.Raw)
	}
	r = e.doOp(t, http.MethodPost, "/v1/services?serviceId=Top.MapServer", map[string]any{})
	if r.Status != 200 || !strings.Contains(r.Raw, `"name":"services/Top.MapServer"`) {
		t.Fatalf("POST root service: %d %s", r.Status, r.Raw)
	}
	r = e.doOp(t, http.MethodPatch, "/v1/folders/Maps/services/Trails.MapServer", map[string]any{"description": "paths", "minInstancesPerNode": 2, "maxInstancesPerNode": 3})
	if s := r.Body; r.Status != 200 || s["description"] != "paths" || s["minInstancesPerNode"] != float64(2) {
		t.Fatalf("PATCH service: %d %s", r.Status, r.Raw)
	}
	r = e.doOp(t, http.MethodPatch, "/v1/services/Top.MapServer?updateMask=description,maxWaitDuration", map[string]any{"description": "top", "maxWaitDuration": "75s"})
	if r.Status != 200 || !strings.Contains(r.Raw, `"description":"top"`) || !strings.Contains(r.Raw, `"maxWaitDuration":"75s"`) {
		t.Fatalf("PATCH root service: %d %s", r.Status, r.Raw)
	}
	for _, path := range []string{"/v1/services/Top.MapServer", "/v1/folders/Maps/services/Trails.MapServer"} {
		r = e.doOp(t, http.MethodPost, path+":stop", map[string]any{})
		if r.Status != 200 || r.Body["configuredState"] != "SERVICE_STATE_STOPPED" || r.Body["name"] != path[len("/v1/"):] {
			t.Fatalf("POST %s:stop: %d %s", path, r.Status, r.Raw)
		}
		r = e.doOp(t, http.MethodPost, path+":start", map[string]any{})
		if r.Status != 200 || r.Body["realTimeState"] != "SERVICE_STATE_STARTED" {
			t.Fatalf("POST %s:start: %d %s", path, r.Status, r.Raw)
		}
		r = e.doOp(t, http.MethodDelete, path, nil)
		if r.Status != 200 {
			t.Fatalf("DELETE %s: %d %s", path, r.Status, r.Raw)
		}
		r = e.do(t, http.MethodGet, path, nil)
		restError(t, r, 404, codes.NotFound)
	}
	r = e.doOp(t, http.MethodDelete, "/v1/folders/Maps?force=true", nil)
	if r.Status != 200 {
		t.Fatalf("DELETE folder force: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/healthz", nil)
	if r.Status != 200 {
		t.Fatalf("/healthz: %d %s", r.Status, r.Raw)
	}
}

// TestBadNamesNeverReachUpstream sends hostile names over gRPC and REST and
// checks each is INVALID_ARGUMENT naming the field, with no upstream request.
func TestBadNamesNeverReachUpstream(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	long := strings.Repeat("a", 1024)
	bad := []string{"../security", "a/b", "%2e%2e", "", long, "x y", "Name.NoSuchServer", "Näme.MapServer", "..", "a.b.c"}

	e.sim.ResetRequests()
	for _, b := range bad {
		grpcCases := []struct {
			field string
			call  func() error
		}{
			{"name", func() error {
				_, err := e.services.GetFolder(c, &adminv1.GetFolderRequest{Name: "folders/" + b})
				return err
			}},
			{"folder_id", func() error {
				_, err := e.services.CreateFolder(c, &adminv1.CreateFolderRequest{FolderId: b})
				return err
			}},
			{"name", func() error {
				_, err := done[emptypb.Empty](c, e.conn)(e.services.DeleteFolder(c, &adminv1.DeleteFolderRequest{Name: "folders/" + b, Force: true}))
				return err
			}},
			{"name", func() error {
				_, err := e.services.GetService(c, &adminv1.GetServiceRequest{Name: "services/" + b})
				return err
			}},
			{"name", func() error {
				_, err := e.services.GetService(c, &adminv1.GetServiceRequest{Name: "folders/" + b + "/services/X.MapServer"})
				return err
			}},
			{"name", func() error {
				_, err := done[emptypb.Empty](c, e.conn)(e.services.DeleteService(c, &adminv1.DeleteServiceRequest{Name: "folders/Maps/services/" + b}))
				return err
			}},
			{"name", func() error {
				_, err := done[adminv1.Service](c, e.conn)(e.services.StartService(c, &adminv1.StartServiceRequest{Name: "services/" + b}))
				return err
			}},
			{"name", func() error {
				_, err := done[adminv1.Service](c, e.conn)(e.services.StopService(c, &adminv1.StopServiceRequest{Name: "services/" + b}))
				return err
			}},
			{"service_id", func() error {
				_, err := done[adminv1.Service](c, e.conn)(e.services.CreateService(c, &adminv1.CreateServiceRequest{ServiceId: b, Service: &adminv1.Service{}}))
				return err
			}},
			{"parent", func() error {
				_, err := e.services.ListServices(c, &adminv1.ListServicesRequest{Parent: "folders/" + b})
				return err
			}},
			{"service.name", func() error {
				_, err := done[adminv1.Service](c, e.conn)(e.services.UpdateService(c, &adminv1.UpdateServiceRequest{Service: &adminv1.Service{Name: "services/" + b},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}}))
				return err
			}},
			{"folder.name", func() error {
				_, err := e.services.UpdateFolder(c, &adminv1.UpdateFolderRequest{Folder: &adminv1.Folder{Name: "folders/" + b}})
				return err
			}},
		}
		for i, tc := range grpcCases {
			err := tc.call()
			info := wantCode(t, err, codes.InvalidArgument)
			if info.GetMetadata()["field"] != tc.field || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("bad name %q case %d: field %q, error %v", b, i, info.GetMetadata()["field"], err)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error message for a %d-byte name is %d bytes long", len(b), len(err.Error()))
			}
		}
		if b == "" || strings.ContainsAny(b, "/ ") || b == ".." {
			continue // not a single REST path segment
		}
		for _, path := range []string{"/v1/folders/" + url.PathEscape(b), "/v1/services/" + url.PathEscape(b), "/v1/folders/Maps/services/" + url.PathEscape(b)} {
			r := e.do(t, http.MethodGet, path, nil)
			if r.Status == 200 {
				t.Errorf("GET %s: 200 for a bad name", path)
			}
		}
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Fatalf("%d requests reached the upstream for bad names: %v", n, e.sim.Requests())
	}
}

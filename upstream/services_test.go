package upstream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// D:services (D-ENT variant, with ids) — docs/upstream.md#recorded-payloads.
const rootWithIDsJSON = `{
  "isDefault": false,
  "folders": ["System", "Utilities", "Hosted"],
  "description": "Root folder",
  "id": "",
  "folderName": "/",
  "services": [
    {"description": "The SampleWorldCities service is provided so you can quickly and easily preview the functionality of the GIS server. Click the thumbnail image to open in a web application. This sample service is optional and can be deleted.",
     "id": "sof08bnwpeha4gw6vwcf5", "folderName": "", "serviceName": "SampleWorldCities", "type": "MapServer"}
  ],
  "webEncrypted": false,
  "foldersDetail": [
    {"isDefault": true, "description": "The System folder contains automatically deployed services that are used by ArcGIS Server.",
     "id": "fv8g7vxn8860x47krpc19", "folderName": "System", "webEncrypted": false}
  ]
}`

// D:services syntax variant: root services with folderName "/", the
// "serviceType" spelling, and string booleans.
const rootDocSyntaxJSON = `{
  "folderName": "/",
  "description": "Root folder",
  "webEncrypted": "false",
  "isDefault": false,
  "folders": ["Maps"],
  "foldersDetail": [{"folderName": "Maps", "description": "", "webEncrypted": "true", "isDefault": false}],
  "services": [
    {"folderName": "/", "serviceName": "Seattle", "serviceType": "MapServer", "description": "my map service"},
    {"folderName": "/", "serviceName": "Both", "type": "GPServer", "serviceType": "Ignored"}
  ]
}`

// D:folder example — docs/upstream.md#services-and-folders.
const systemFolderJSON = `{
  "folderName": "System",
  "description": "The System folder contains automatically deployed services that are used by ArcGIS Server.",
  "services": [
    {"folderName": "System", "serviceName": "CachingTools", "type": "GPServer",
     "description": "The CachingTools service is used by ArcGIS Server to create and manage map service caches."}
  ]
}`

func TestServices_ListRoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want *upstream.FolderListing
	}{
		{"with ids", rootWithIDsJSON, &upstream.FolderListing{
			FolderName:  "/",
			Description: "Root folder",
			Folders:     []string{"System", "Utilities", "Hosted"},
			FoldersDetail: []upstream.FolderInfo{{
				FolderName:  "System",
				Description: "The System folder contains automatically deployed services that are used by ArcGIS Server.",
				ID:          "fv8g7vxn8860x47krpc19",
				IsDefault:   true,
			}},
			Services: []upstream.ServiceSummary{{
				ServiceName: "SampleWorldCities",
				Type:        "MapServer",
				Description: "The SampleWorldCities service is provided so you can quickly and easily preview the functionality of the GIS server. Click the thumbnail image to open in a web application. This sample service is optional and can be deleted.",
				ID:          "sof08bnwpeha4gw6vwcf5",
			}},
		}},
		{"doc syntax", rootDocSyntaxJSON, &upstream.FolderListing{
			FolderName:    "/",
			Description:   "Root folder",
			Folders:       []string{"Maps"},
			FoldersDetail: []upstream.FolderInfo{{FolderName: "Maps", WebEncrypted: true}},
			Services: []upstream.ServiceSummary{
				{ServiceName: "Seattle", Type: "MapServer", Description: "my map service"},
				{ServiceName: "Both", Type: "GPServer"},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc("/services", func(w http.ResponseWriter, r *http.Request) {
				testGET(t, r, authed(testToken, nil))
				writeBody(w, tt.body)
			})
			got, err := c.Services.ListRoot(context.Background())
			if err != nil {
				t.Fatalf("ListRoot: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ListRoot =\n%+v\nwant\n%+v", got, tt.want)
			}
			if ref := got.Services[0].Ref(); ref.Path() != "services/"+url.PathEscape(ref.Name)+"."+ref.Type {
				t.Errorf("Ref().Path() = %q", ref.Path())
			}
		})
	}
}

func TestServices_ListFolder(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/services/System", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		writeBody(w, systemFolderJSON)
	})
	got, err := c.Services.ListFolder(context.Background(), "System")
	if err != nil {
		t.Fatalf("ListFolder: %v", err)
	}
	want := &upstream.FolderListing{
		FolderName:  "System",
		Description: "The System folder contains automatically deployed services that are used by ArcGIS Server.",
		Services: []upstream.ServiceSummary{{
			FolderName: "System", ServiceName: "CachingTools", Type: "GPServer",
			Description: "The CachingTools service is used by ArcGIS Server to create and manage map service caches.",
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListFolder = %+v, want %+v", got, want)
	}
}

func TestServices_FolderOperations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string
		form url.Values
		call func(s *upstream.ServicesService) error
	}{
		{"CreateFolder", "/services/createFolder", url.Values{"folderName": {"Maps"}, "description": {"Map services"}},
			func(s *upstream.ServicesService) error {
				return s.CreateFolder(context.Background(), "Maps", "Map services")
			}},
		{"CreateFolder without description", "/services/createFolder", url.Values{"folderName": {"Maps"}, "description": {""}},
			func(s *upstream.ServicesService) error { return s.CreateFolder(context.Background(), "Maps", "") }},
		{"EditFolder", "/services/Maps/editFolder", url.Values{"description": {"new"}, "webEncrypted": {"true"}},
			func(s *upstream.ServicesService) error {
				return s.EditFolder(context.Background(), "Maps", "new", true)
			}},
		{"EditFolder not encrypted", "/services/Maps/editFolder", url.Values{"description": {""}, "webEncrypted": {"false"}},
			func(s *upstream.ServicesService) error { return s.EditFolder(context.Background(), "Maps", "", false) }},
		{"DeleteFolder", "/services/Maps/deleteFolder", nil,
			func(s *upstream.ServicesService) error { return s.DeleteFolder(context.Background(), "Maps") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			var calls counter
			mux.HandleFunc(tt.path, func(w http.ResponseWriter, r *http.Request) {
				calls.inc()
				testPOST(t, r, authed(testToken, tt.form))
				if r.PostForm.Has("webEncrypted") && tt.name[:6] == "Create" {
					t.Error("createFolder must never send webEncrypted")
				}
				writeBody(w, `{"status": "success"}`)
			})
			if err := tt.call(c.Services); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if calls.get() != 1 {
				t.Errorf("calls = %d", calls.get())
			}
		})
	}
}

func TestServices_ServiceOperations(t *testing.T) {
	t.Parallel()
	sys := upstream.ServiceRef{Folder: "System", Name: "CachingTools", Type: "GPServer"}
	root := upstream.ServiceRef{Name: "SampleWorldCities", Type: "MapServer"}
	slash := upstream.ServiceRef{Folder: "/", Name: "SampleWorldCities", Type: "MapServer"}
	tests := []struct {
		name string
		path string
		call func(s *upstream.ServicesService) error
	}{
		{"Start in folder", "/services/System/CachingTools.GPServer/start",
			func(s *upstream.ServicesService) error { return s.Start(context.Background(), sys) }},
		{"Stop in folder", "/services/System/CachingTools.GPServer/stop",
			func(s *upstream.ServicesService) error { return s.Stop(context.Background(), sys) }},
		{"Delete in folder", "/services/System/CachingTools.GPServer/delete",
			func(s *upstream.ServicesService) error { return s.Delete(context.Background(), sys) }},
		{"Start at root", "/services/SampleWorldCities.MapServer/start",
			func(s *upstream.ServicesService) error { return s.Start(context.Background(), root) }},
		{"Stop at root given as /", "/services/SampleWorldCities.MapServer/stop",
			func(s *upstream.ServicesService) error { return s.Stop(context.Background(), slash) }},
		{"Delete at root", "/services/SampleWorldCities.MapServer/delete",
			func(s *upstream.ServicesService) error { return s.Delete(context.Background(), root) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc(tt.path, func(w http.ResponseWriter, r *http.Request) {
				testPOST(t, r, authed(testToken, nil))
				writeBody(w, `{"status": "success"}`)
			})
			if err := tt.call(c.Services); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		})
	}
}

func TestServices_ServiceOperation_NotFound(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/services/BZK1.MapServer/start", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"status": "error", "messages": ["Could not find resource or operation 'BZK1.MapServer' on the system."], "code": 404}`)
	})
	err := c.Services.Start(context.Background(), upstream.ServiceRef{Name: "BZK1", Type: "MapServer"})
	if !upstream.IsNotFound(err) || upstream.IsAuth(err) {
		t.Fatalf("err = %v, want not found", err)
	}
	if e := asError(t, err); e.Op != "services.start" || e.Method != "POST" || e.Path != "services/BZK1.MapServer/start" {
		t.Errorf("Op/Method/Path = %q %q %q", e.Op, e.Method, e.Path)
	}
}

func TestServices_Status(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/services/System/CachingTools.GPServer/status", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		writeBody(w, `{"configuredState":"STARTED","realTimeState":"STOPPED"}`)
	})
	st, err := c.Services.Status(context.Background(), upstream.ServiceRef{Folder: "System", Name: "CachingTools", Type: "GPServer"})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if *st != (upstream.ServiceStatus{ConfiguredState: "STARTED", RealTimeState: "STOPPED"}) {
		t.Errorf("Status = %+v", st)
	}
}

// seattleJSON is the D:service example (with straight quotes), plus fields
// seen in newer payloads.
const seattleJSON = `{
  "serviceName": "Seattle",
  "type": "MapServer",
  "description": "my map service",
  "capabilities": "map,query,data",
  "clusterName": "default",
  "minInstancesPerNode": 1,
  "maxInstancesPerNode": 2,
  "instancesPerContainer": "1",
  "maxWaitTime": 60,
  "maxIdleTime": 1800,
  "maxUsageTime": 600,
  "maxStartupTime": "300",
  "recycleInterval": 24,
  "recycleStartTime": "00:00",
  "loadBalancing": "ROUND_ROBIN",
  "isolationLevel": "HIGH",
  "provider": "ArcObjects11",
  "private": false,
  "id": "sof08bnwpeha4gw6vwcf5",
  "properties": {"maxBufferCount": "100", "maxImageHeight": "2048", "maxRecordCount": "1000",
                 "filePath": "\\\\machine\\data\\Seattle\\", "maxImageWidth": "2048", "cacheOnDemand": "false"},
  "extensions": [
    {"typeName": "FeatureServer", "capabilities": "Query,Create,Update", "enabled": "true",
     "maxUploadFileSize": 0, "properties": {"maxRecordCount": "1000"}},
    {"typeName": "KmlServer", "capabilities": "SingleImage", "enabled": false, "properties": {}}
  ],
  "jsonProperties": {"a": [1, 2, {"b": null}]},
  "portalProperties": {"isHosted": false, "portalItems": [{"itemID": "abc", "type": "MapServer"}]},
  "frameworkProperties": {},
  "datasets": [],
  "serverId": "srv1",
  "maxUploadFileSize": 0,
  "allowedUploadFileTypes": ""
}`

func TestServices_Get(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/services/Maps/Seattle.MapServer", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		writeBody(w, seattleJSON)
	})
	cfg, err := c.Services.Get(context.Background(), upstream.ServiceRef{Folder: "Maps", Name: "Seattle", Type: "MapServer"})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := upstream.ServiceConfig{
		ServiceName: "Seattle", Type: "MapServer", Description: "my map service",
		Capabilities: "map,query,data", ClusterName: "default",
		MinInstancesPerNode: 1, MaxInstancesPerNode: 2, InstancesPerContainer: 1,
		MaxWaitTime: 60, MaxIdleTime: 1800, MaxUsageTime: 600, MaxStartupTime: 300,
		RecycleInterval: 24, RecycleStartTime: "00:00", LoadBalancing: "ROUND_ROBIN",
		IsolationLevel: "HIGH", Provider: "ArcObjects11", ID: "sof08bnwpeha4gw6vwcf5",
		Properties: map[string]string{
			"maxBufferCount": "100", "maxImageHeight": "2048", "maxRecordCount": "1000",
			"filePath": `\\machine\data\Seattle\`, "maxImageWidth": "2048", "cacheOnDemand": "false",
		},
	}
	if got := typedOnly(*cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("Get =\n%+v\nwant\n%+v", got, want)
	}
	if len(cfg.Extensions) != 2 || cfg.Extensions[0].TypeName != "FeatureServer" || !cfg.Extensions[0].Enabled ||
		cfg.Extensions[1].Enabled || cfg.Extensions[0].Properties["maxRecordCount"] != "1000" {
		t.Errorf("Extensions = %+v", cfg.Extensions)
	}
	for _, k := range []string{"jsonProperties", "portalProperties", "frameworkProperties", "datasets", "serverId"} {
		if _, ok := cfg.Raw()[k]; !ok {
			t.Errorf("Raw lacks %q", k)
		}
	}
}

// typedOnly keeps the typed fields but Extensions, for comparisons.
func typedOnly(c upstream.ServiceConfig) upstream.ServiceConfig {
	c.Extensions = nil
	return exportedOnly(c)
}

// exportedOnly returns a copy of v with only its exported fields set: what
// a comparison of decoded values should look at, without the bytes kept
// as received.
func exportedOnly[T any](v T) T {
	var out T
	src, dst := reflect.ValueOf(v), reflect.ValueOf(&out).Elem()
	for i := range src.NumField() {
		if src.Type().Field(i).IsExported() {
			dst.Field(i).Set(src.Field(i))
		}
	}
	return out
}

func TestServices_CreateAndEdit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, mux := setupStatic(t)
	decodeService := func(t *testing.T, r *http.Request) map[string]any {
		t.Helper()
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(r.PostForm.Get("service")), &m); err != nil {
			t.Fatalf("service field is not JSON: %v", err)
		}
		return m
	}

	// Create at the root and in a folder, from a config built in code.
	newCfg := &upstream.ServiceConfig{
		ServiceName: "Parcels", Type: "MapServer", MaxWaitTime: 60,
		Properties: map[string]string{"filePath": "/data/parcels.msd"},
	}
	for path, folder := range map[string]string{"/services/createService": "", "/services/Maps/createService": "Maps"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			m := decodeService(t, r)
			testPOST(t, r, authed(testToken, url.Values{"service": {r.PostForm.Get("service")}}))
			want := map[string]any{
				"serviceName": "Parcels", "type": "MapServer", "maxWaitTime": 60.0,
				"properties": map[string]any{"filePath": "/data/parcels.msd"},
			}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("service = %v, want %v (zero fields must not be sent)", m, want)
			}
			writeBody(w, `{"status": "success"}`)
		})
		if err := c.Services.Create(ctx, folder, newCfg); err != nil {
			t.Fatalf("Create(%q): %v", folder, err)
		}
	}

	// Edit: get, change, send back; unknown keys survive unchanged.
	mux.HandleFunc("/services/Maps/Seattle.MapServer", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, seattleJSON)
	})
	ref := upstream.ServiceRef{Folder: "Maps", Name: "Seattle", Type: "MapServer"}
	cfg, err := c.Services.Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxWaitTime = 120
	cfg.Properties["maxRecordCount"] = "2000"
	cfg.Extensions[0].Enabled = false
	cfg.Extensions[1].Enabled = true
	mux.HandleFunc("/services/Maps/Seattle.MapServer/edit", func(w http.ResponseWriter, r *http.Request) {
		m := decodeService(t, r)
		testPOST(t, r, authed(testToken, url.Values{"service": {r.PostForm.Get("service")}}))
		var orig map[string]any
		_ = json.Unmarshal([]byte(seattleJSON), &orig)
		for _, k := range []string{"jsonProperties", "portalProperties", "frameworkProperties", "datasets", "serverId", "maxUploadFileSize", "allowedUploadFileTypes", "instancesPerContainer", "maxStartupTime"} {
			if !reflect.DeepEqual(m[k], orig[k]) {
				t.Errorf("%s = %#v, want unchanged %#v", k, m[k], orig[k])
			}
		}
		if m["maxWaitTime"] != 120.0 {
			t.Errorf("maxWaitTime = %#v", m["maxWaitTime"])
		}
		props := m["properties"].(map[string]any)
		if props["maxRecordCount"] != "2000" || props["cacheOnDemand"] != "false" {
			t.Errorf("properties = %v", props)
		}
		exts := m["extensions"].([]any)
		if e0 := exts[0].(map[string]any); e0["enabled"] != "false" || e0["maxUploadFileSize"] != 0.0 {
			t.Errorf("extension 0 = %v, want enabled \"false\" (string, as received)", e0)
		}
		if e1 := exts[1].(map[string]any); e1["enabled"] != true {
			t.Errorf("extension 1 = %v, want enabled true (bool, as received)", e1)
		}
		writeBody(w, `{"status": "success"}`)
	})
	if err := c.Services.Edit(ctx, ref, cfg); err != nil {
		t.Fatalf("Edit: %v", err)
	}
}

func TestServices_Escaping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		call     func(s *upstream.ServicesService) error
		wantPath string
	}{
		{"folder with space", func(s *upstream.ServicesService) error {
			_, err := s.ListFolder(context.Background(), "My Folder")
			return err
		}, "/services/My%20Folder"},
		{"folder with slash", func(s *upstream.ServicesService) error {
			return s.DeleteFolder(context.Background(), "a/b")
		}, "/services/a%2Fb/deleteFolder"},
		{"folder with query characters", func(s *upstream.ServicesService) error {
			return s.EditFolder(context.Background(), "x?token=y#z", "", false)
		}, "/services/x%3Ftoken=y%23z/editFolder"},
		{"percent and unicode", func(s *upstream.ServicesService) error {
			_, err := s.Status(context.Background(), upstream.ServiceRef{Folder: "100%", Name: "Stra\u00dfe", Type: "MapServer"})
			return err
		}, "/services/100%25/Stra%C3%9Fe.MapServer/status"},
		{"name with slash and dots", func(s *upstream.ServicesService) error {
			return s.Start(context.Background(), upstream.ServiceRef{Name: "../a/..", Type: "GPServer"})
		}, "/services/..%2Fa%2F...GPServer/start"},
		{"type with space", func(s *upstream.ServicesService) error {
			_, err := s.Get(context.Background(), upstream.ServiceRef{Name: "A", Type: "Map Server"})
			return err
		}, "/services/A.Map%20Server"},
		{"create in odd folder", func(s *upstream.ServicesService) error {
			return s.Create(context.Background(), "f&g", &upstream.ServiceConfig{ServiceName: "A", Type: "MapServer"})
		}, "/services/f&g/createService"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			var calls counter
			mux.HandleFunc("/services/", func(w http.ResponseWriter, r *http.Request) {
				calls.inc()
				if got := r.URL.EscapedPath(); got != tt.wantPath {
					t.Errorf("path = %q, want %q", got, tt.wantPath)
				}
				if r.Method == http.MethodGet {
					if q := r.URL.Query(); r.Header.Get("X-Esri-Authorization") != "Bearer "+testToken || q.Get("f") != "json" || len(q) != 1 {
						t.Errorf("query = %v", redactValues(q))
					}
				}
				switch {
				case strings.HasSuffix(r.URL.Path, "/status"):
					writeBody(w, `{"configuredState":"STARTED","realTimeState":"STARTED"}`)
				case r.Method == http.MethodGet && strings.Contains(r.URL.Path, ".Map Server"):
					writeBody(w, `{"serviceName":"A","type":"Map Server"}`)
				case r.Method == http.MethodGet:
					writeBody(w, `{"folderName":"My Folder","services":[]}`)
				default:
					writeBody(w, `{"status":"success"}`)
				}
			})
			if err := tt.call(c.Services); err != nil {
				t.Fatalf("call: %v", err)
			}
			if calls.get() != 1 {
				t.Errorf("calls = %d", calls.get())
			}
		})
	}
}

func TestServiceRef_Path(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref  upstream.ServiceRef
		want string
		str  string
	}{
		{upstream.ServiceRef{Name: "A", Type: "MapServer"}, "services/A.MapServer", "A.MapServer"},
		{upstream.ServiceRef{Folder: "/", Name: "A", Type: "MapServer"}, "services/A.MapServer", "A.MapServer"},
		{upstream.ServiceRef{Folder: "System", Name: "CachingTools", Type: "GPServer"}, "services/System/CachingTools.GPServer", "System/CachingTools.GPServer"},
		{upstream.ServiceRef{Folder: "a b", Name: "c/d", Type: "e?f"}, "services/a%20b/c%2Fd.e%3Ff", "a b/c/d.e?f"},
	}
	for _, tt := range tests {
		if got := tt.ref.Path(); got != tt.want {
			t.Errorf("%+v.Path() = %q, want %q", tt.ref, got, tt.want)
		}
		if got := tt.ref.String(); got != tt.str {
			t.Errorf("%+v.String() = %q, want %q", tt.ref, got, tt.str)
		}
	}
}

func TestServices_InvalidArguments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := setupStatic(t) // no handlers: nothing may be sent
	s := c.Services
	tests := []struct {
		name string
		call func() error
	}{
		{"ListFolder empty", func() error { _, err := s.ListFolder(ctx, ""); return err }},
		{"ListFolder root", func() error { _, err := s.ListFolder(ctx, "/"); return err }},
		{"ListFolder dotdot", func() error { _, err := s.ListFolder(ctx, ".."); return err }},
		{"CreateFolder empty", func() error { return s.CreateFolder(ctx, "", "d") }},
		{"CreateFolder dot", func() error { return s.CreateFolder(ctx, ".", "d") }},
		{"EditFolder empty", func() error { return s.EditFolder(ctx, "", "d", true) }},
		{"DeleteFolder root", func() error { return s.DeleteFolder(ctx, "/") }},
		{"DeleteFolder dotdot", func() error { return s.DeleteFolder(ctx, "..") }},
		{"Get empty name", func() error { _, err := s.Get(ctx, upstream.ServiceRef{Type: "MapServer"}); return err }},
		{"Get empty type", func() error { _, err := s.Get(ctx, upstream.ServiceRef{Name: "A"}); return err }},
		{"Status dot folder", func() error {
			_, err := s.Status(ctx, upstream.ServiceRef{Folder: ".", Name: "A", Type: "MapServer"})
			return err
		}},
		{"Start dotdot name", func() error { return s.Start(ctx, upstream.ServiceRef{Name: "..", Type: "MapServer"}) }},
		{"Stop dotdot type", func() error { return s.Stop(ctx, upstream.ServiceRef{Name: "A", Type: ".."}) }},
		{"Delete empty", func() error { return s.Delete(ctx, upstream.ServiceRef{}) }},
		{"Create nil config", func() error { return s.Create(ctx, "", nil) }},
		{"Create dotdot folder", func() error { return s.Create(ctx, "..", &upstream.ServiceConfig{}) }},
		{"Edit nil config", func() error {
			return s.Edit(ctx, upstream.ServiceRef{Name: "A", Type: "MapServer"}, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			if e := asError(t, err); e.Kind != upstream.KindInvalid {
				t.Errorf("Kind = %v, want KindInvalid (err %v)", e.Kind, err)
			}
		})
	}
}

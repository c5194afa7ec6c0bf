package simulator_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/simulator"
)

const descSystem = "The System folder contains automatically deployed services that are used by ArcGIS Server."

// listNames returns "folderName/serviceName.type" of a listing's services.
func listNames(t *testing.T, m map[string]any) []string {
	t.Helper()
	var out []string
	for _, x := range m["services"].([]any) {
		s := x.(map[string]any)
		out = append(out, fmt.Sprintf("%v/%v.%v", s["folderName"], s["serviceName"], s["type"]))
	}
	return out
}

func TestRootListing(t *testing.T) {
	for _, rootName := range []string{"", "/"} {
		t.Run(fmt.Sprintf("RootFolderName=%q", rootName), func(t *testing.T) {
			e := newEnv(t, simulator.Config{RootFolderName: rootName})
			m := e.getJSON("services")
			if m["folderName"] != "/" || m["description"] != "Root folder" ||
				m["webEncrypted"] != false || m["isDefault"] != false {
				t.Fatalf("root header: %v", m)
			}
			if got := toStrings(m["folders"].([]any)); !reflect.DeepEqual(got, []string{"System", "Utilities", "Hosted", "Maps"}) {
				t.Fatalf("folders = %v", got)
			}
			details := m["foldersDetail"].([]any)
			if len(details) != 4 {
				t.Fatalf("foldersDetail = %v", details)
			}
			for _, d := range details {
				d := d.(map[string]any)
				wantDefault := d["folderName"] == "System" || d["folderName"] == "Utilities"
				if d["isDefault"] != wantDefault || d["webEncrypted"] != false || len(d["id"].(string)) != 21 {
					t.Fatalf("folder detail %v", d)
				}
				if d["folderName"] == "System" && d["description"] != descSystem {
					t.Fatalf("System description %q", d["description"])
				}
			}
			svcs := m["services"].([]any)
			if len(svcs) != 1 {
				t.Fatalf("root services = %v", svcs)
			}
			want := map[string]any{
				"folderName":  rootName,
				"serviceName": "SampleWorldCities",
				"type":        "MapServer",
				"description": "The SampleWorldCities service is provided so you can quickly and easily preview the functionality of the GIS server. Click the thumbnail image to open in a web application. This sample service is optional and can be deleted.",
				"id":          svcs[0].(map[string]any)["id"],
			}
			if !reflect.DeepEqual(svcs[0], want) {
				t.Fatalf("root service %v", svcs[0])
			}

			d := e.getJSON("services", "detail", "true")
			full := d["services"].([]any)[0].(map[string]any)
			if full["folderName"] != rootName || full["capabilities"] != "Map,Query,Data" || full["clusterName"] != "default" {
				t.Fatalf("detail entry %v", full)
			}
		})
	}
}

func TestIDsAreStable(t *testing.T) {
	a := newEnv(t, simulator.Config{}).getJSON("services/Maps")
	b := newEnv(t, simulator.Config{}).getJSON("services/Maps")
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("listings differ between instances:\n%v\n%v", a, b)
	}
}

func TestFolderListing(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, tc := range []struct {
		path      string
		name      string
		isDefault bool
		services  []string
	}{
		{"services/System", "System", true, []string{
			"System/CachingControllers.GPServer", "System/CachingTools.GPServer", "System/PublishingTools.GPServer",
			"System/ReportingTools.GPServer", "System/SceneCachingTools.GPServer"}},
		{"services/system", "System", true, nil}, // case-insensitive lookup keeps stored case
		{"services/Utilities", "Utilities", true, []string{
			"Utilities/Geometry.GeometryServer", "Utilities/OfflinePackaging.GPServer", "Utilities/PrintingTools.GPServer",
			"Utilities/RasterUtilities.GPServer", "Utilities/Symbology.GPServer"}},
		{"services/Maps/", "Maps", false, []string{
			"Maps/Addresses.GeocodeServer", "Maps/Parcels.MapServer", "Maps/Roads.MapServer"}},
		{"services/Hosted", "Hosted", false, []string{"Hosted/Stations.FeatureServer", "Hosted/Stations.MapServer"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			m := e.getJSON(tc.path)
			if m["folderName"] != tc.name || m["isDefault"] != tc.isDefault || m["webEncrypted"] != false {
				t.Fatalf("folder header %v", m)
			}
			if tc.services != nil && !reflect.DeepEqual(listNames(t, m), tc.services) {
				t.Fatalf("services = %v\nwant %v", listNames(t, m), tc.services)
			}
		})
	}
	m := e.getJSON("services/System")
	if m["description"] != descSystem {
		t.Fatalf("description %q", m["description"])
	}
	first := m["services"].([]any)[1].(map[string]any)
	if first["description"] != "The CachingTools service is used by ArcGIS Server to create and manage map service caches." {
		t.Fatalf("CachingTools %v", first)
	}
	d := e.getJSON("services/Maps", "detail", "true")
	if full := d["services"].([]any)[1].(map[string]any); full["serviceName"] != "Parcels" || full["maxIdleTime"] == nil {
		t.Fatalf("folder detail %v", full)
	}
}

func TestFolderCRUD(t *testing.T) {
	e := newEnv(t, simulator.Config{})

	wantSuccess(t, e.postJSON("services/createFolder", "folderName", "Work", "description", "work stuff", "webEncrypted", "true"))
	m := e.getJSON("services/Work")
	if m["folderName"] != "Work" || m["description"] != "work stuff" || m["webEncrypted"] != false ||
		m["isDefault"] != false || len(m["services"].([]any)) != 0 {
		t.Fatalf("new folder %v", m)
	}
	if got := toStrings(e.getJSON("services")["folders"].([]any)); got[len(got)-1] != "Work" {
		t.Fatalf("folders = %v", got)
	}

	for _, tc := range []struct {
		name   string
		params []string
		code   int
		msg    string
	}{
		{"duplicate", []string{"folderName", "Work"}, 500, "A folder with the name 'Work' already exists."},
		{"duplicate other case", []string{"folderName", "WORK"}, 500, "A folder with the name 'WORK' already exists."},
		{"duplicate default", []string{"folderName", "system"}, 500, "A folder with the name 'system' already exists."},
		{"missing name", nil, 400, "Missing required parameter 'folderName'."},
		{"invalid name", []string{"folderName", "a-b"}, 400, "Folder name 'a-b' is not valid. Folder names can only contain letters, numbers and underscores."},
		{"slash", []string{"folderName", "a/b"}, 400, "Folder name 'a/b' is not valid. Folder names can only contain letters, numbers and underscores."},
		{"reserved", []string{"folderName", "Types"}, 400, "Folder name 'Types' is reserved and cannot be used."},
	} {
		t.Run("create "+tc.name, func(t *testing.T) {
			wantError(t, e.postJSON("services/createFolder", tc.params...), tc.code, tc.msg)
		})
	}

	t.Run("edit", func(t *testing.T) {
		wantSuccess(t, e.postJSON("services/work/editFolder", "description", "new", "webEncrypted", "true"))
		m := e.getJSON("services/Work")
		if m["description"] != "new" || m["webEncrypted"] != true || m["folderName"] != "Work" {
			t.Fatalf("edited folder %v", m)
		}
		wantSuccess(t, e.postJSON("services/Work/editFolder", "webEncrypted", "false"))
		if m := e.getJSON("services/Work"); m["description"] != "new" || m["webEncrypted"] != false {
			t.Fatalf("edited folder %v", m)
		}
		wantError(t, e.postJSON("services/Work/editFolder", "webEncrypted", "yes"), 400,
			"Invalid value 'yes' for parameter 'webEncrypted'. Expected 'true' or 'false'.")
		wantError(t, e.postJSON("services/Nope/editFolder", "description", "x"), 404,
			"Could not find resource or operation 'Nope' on the system.")
	})

	t.Run("delete cascades", func(t *testing.T) {
		wantSuccess(t, e.postJSON("services/Work/createService", "service", `{"serviceName":"Inside","type":"MapServer"}`))
		if m := e.getJSON("services/Work/Inside.MapServer"); m["serviceName"] != "Inside" {
			t.Fatalf("service %v", m)
		}
		wantSuccess(t, e.postJSON("services/Work/deleteFolder"))
		wantCode(t, e.getJSON("services/Work"), 404)
		wantCode(t, e.getJSON("services/Work/Inside.MapServer"), 404)
		if got := toStrings(e.getJSON("services")["folders"].([]any)); slices.Contains(got, "Work") {
			t.Fatalf("folders = %v", got)
		}
		wantSuccess(t, e.postJSON("services/createFolder", "folderName", "Work"))
		if m := e.getJSON("services/Work"); len(m["services"].([]any)) != 0 {
			t.Fatalf("recreated folder not empty: %v", m)
		}
		wantCode(t, e.postJSON("services/Gone/deleteFolder"), 404)
	})

	t.Run("default folders cannot be deleted", func(t *testing.T) {
		for _, name := range []string{"System", "utilities"} {
			m := e.postJSON("services/" + name + "/deleteFolder")
			stored := map[string]string{"System": "System", "utilities": "Utilities"}[name]
			wantError(t, m, 400, "The folder '"+stored+"' is a default folder and cannot be deleted.")
		}
		if m := e.getJSON("services/System/CachingTools.GPServer"); m["serviceName"] != "CachingTools" {
			t.Fatalf("System service gone: %v", m)
		}
	})
}

func TestServiceResource(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	m := e.getJSON("services/SampleWorldCities.MapServer")
	for _, key := range []string{
		"serviceName", "type", "description", "capabilities", "clusterName", "minInstancesPerNode",
		"maxInstancesPerNode", "instancesPerContainer", "maxWaitTime", "maxIdleTime", "maxUsageTime",
		"maxStartupTime", "recycleInterval", "recycleStartTime", "loadBalancing", "isolationLevel",
		"provider", "private", "properties", "extensions", "frameworkProperties", "id",
		"jsonProperties", "portalProperties",
	} {
		if _, ok := m[key]; !ok {
			t.Errorf("missing key %q", key)
		}
	}
	if m["capabilities"] != "Map,Query,Data" || m["minInstancesPerNode"] != json.Number("1") {
		t.Fatalf("service %v", m)
	}
	for k, v := range m["properties"].(map[string]any) {
		if _, ok := v.(string); !ok {
			t.Errorf("property %s = %v is not a string", k, v)
		}
	}
	props := m["properties"].(map[string]any)
	if props["maxRecordCount"] != "1000" || props["maxImageHeight"] != "4096" || props["cacheOnDemand"] != "false" {
		t.Fatalf("properties %v", props)
	}
	kml := m["extensions"].([]any)[0].(map[string]any)
	if kml["typeName"] != "KmlServer" || kml["enabled"] != "true" {
		t.Fatalf("extension %v", kml)
	}
	if _, ok := kml["properties"].(map[string]any); !ok {
		t.Fatalf("extension properties %v", kml)
	}

	// Names are case-insensitive, types are not.
	if m := e.getJSON("services/maps/PARCELS.MapServer"); m["serviceName"] != "Parcels" {
		t.Fatalf("case-insensitive lookup %v", m)
	}
	wantCode(t, e.getJSON("services/Maps/Parcels.mapserver"), 404)
	// A folder service is not visible at the root and vice versa.
	wantCode(t, e.getJSON("services/Parcels.MapServer"), 404)
	wantCode(t, e.getJSON("services/Maps/SampleWorldCities.MapServer"), 404)
}

func TestServiceStartStop(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	status := func() map[string]any { return e.getJSON("services/Maps/Roads.MapServer/status") }
	if m := status(); !reflect.DeepEqual(m, map[string]any{"configuredState": "STOPPED", "realTimeState": "STOPPED"}) {
		t.Fatalf("seeded Roads status %v", m)
	}
	wantSuccess(t, e.postJSON("services/Maps/Roads.MapServer/start"))
	if m := status(); !reflect.DeepEqual(m, map[string]any{"configuredState": "STARTED", "realTimeState": "STARTED"}) {
		t.Fatalf("after start %v", m)
	}
	wantSuccess(t, e.postJSON("services/Maps/Roads.MapServer/stop"))
	if m := status(); m["configuredState"] != "STOPPED" || m["realTimeState"] != "STOPPED" {
		t.Fatalf("after stop %v", m)
	}
	wantCode(t, e.postJSON("services/Maps/Nope.MapServer/start"), 404)
}

func TestServiceEdit(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	r := e.get("services/Maps/Parcels.MapServer", e.authed())
	var cfg map[string]any
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.UseNumber()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg["description"] = "Edited parcels"
	cfg["maxInstancesPerNode"] = json.Number("7")
	cfg["someFutureKey"] = map[string]any{"nested": []any{json.Number("1.50"), "x", nil, true}}
	cfg["bigNumber"] = json.Number("12345678901234567890")
	cfg["properties"].(map[string]any)["customProp"] = "yes"
	body, _ := json.Marshal(cfg)

	wantSuccess(t, e.postJSON("services/Maps/Parcels.MapServer/edit", "service", string(body)))
	after := e.get("services/Maps/Parcels.MapServer", e.authed())
	checkJSONWire(t, after)
	if !strings.Contains(string(after.body), `"bigNumber":12345678901234567890`) ||
		!strings.Contains(string(after.body), `"someFutureKey":{"nested":[1.50,"x",null,true]}`) {
		t.Fatalf("unknown keys not preserved exactly: %s", after.body)
	}
	got := after.object(t)
	if !reflect.DeepEqual(got, cfg) {
		t.Fatalf("edited service\n got %v\nwant %v", got, cfg)
	}
	if got := e.getJSON("services/Maps"); listDescription(got, "Parcels") != "Edited parcels" {
		t.Fatalf("listing description not updated: %v", got)
	}
	if m := e.getJSON("services/Maps/Parcels.MapServer/status"); m["configuredState"] != "STARTED" {
		t.Fatalf("edit changed state: %v", m)
	}

	t.Run("id kept when omitted", func(t *testing.T) {
		id := cfg["id"]
		wantSuccess(t, e.postJSON("services/Maps/Parcels.MapServer/edit", "service",
			`{"serviceName":"Parcels","type":"MapServer","description":"minimal"}`))
		m := e.getJSON("services/Maps/Parcels.MapServer")
		if m["id"] != id || m["description"] != "minimal" || len(m) != 4 {
			t.Fatalf("minimal edit: %v", m)
		}
	})

	for _, tc := range []struct {
		name, service string
		code          int
		msg           string
	}{
		{"missing", "", 500, "java.lang.NullPointerException"},
		{"not an object", `["a"]`, 500, "A JSONObject text must begin with '{' at character 1"},
		{"broken", `{"serviceName":"Parcels",`, 500, ""},
		{"trailing garbage", `{"serviceName":"Parcels","type":"MapServer"} x`, 500, ""},
		{"other name", `{"serviceName":"Roads","type":"MapServer"}`, 400,
			"The service 'Roads.MapServer' in the 'service' parameter does not match the service being edited 'Parcels.MapServer'."},
		{"other type", `{"serviceName":"Parcels","type":"FeatureServer"}`, 400,
			"The service 'Parcels.FeatureServer' in the 'service' parameter does not match the service being edited 'Parcels.MapServer'."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := e.postJSON("services/Maps/Parcels.MapServer/edit", "service", tc.service)
			if tc.msg == "" {
				wantCode(t, m, tc.code)
				return
			}
			wantError(t, m, tc.code, tc.msg)
		})
	}
}

// listDescription returns the description of a service in a listing.
func listDescription(m map[string]any, name string) any {
	for _, x := range m["services"].([]any) {
		if s := x.(map[string]any); s["serviceName"] == name {
			return s["description"]
		}
	}
	return nil
}

func TestCreateAndDeleteService(t *testing.T) {
	e := newEnv(t, simulator.Config{})

	t.Run("in folder", func(t *testing.T) {
		wantSuccess(t, e.postJSON("services/Maps/createService", "service",
			`{"serviceName":"Rivers","type":"MapServer","description":"Rivers","x-custom":{"a":[1,2]},"properties":{"maxRecordCount":"500"}}`))
		m := e.getJSON("services/Maps/Rivers.MapServer")
		if m["description"] != "Rivers" || m["clusterName"] != "default" || m["x-custom"] == nil ||
			m["properties"].(map[string]any)["maxRecordCount"] != "500" || len(m["id"].(string)) == 0 {
			t.Fatalf("created service %v", m)
		}
		if s := e.getJSON("services/Maps/Rivers.MapServer/status"); s["configuredState"] != "STARTED" || s["realTimeState"] != "STARTED" {
			t.Fatalf("new service status %v", s)
		}
		if got := listNames(t, e.getJSON("services/Maps")); !slices.Contains(got, "Maps/Rivers.MapServer") {
			t.Fatalf("listing %v", got)
		}
	})
	t.Run("at root", func(t *testing.T) {
		wantSuccess(t, e.postJSON("services/createService", "service", `{"serviceName":"RootGeo","type":"GeometryServer"}`))
		if got := listNames(t, e.getJSON("services")); !slices.Contains(got, "/RootGeo.GeometryServer") {
			t.Fatalf("root listing %v", got)
		}
	})
	t.Run("same name other type", func(t *testing.T) {
		wantSuccess(t, e.postJSON("services/Maps/createService", "service", `{"serviceName":"Rivers","type":"FeatureServer"}`))
	})

	for _, tc := range []struct {
		name, path, service string
		code                int
		msg                 string
	}{
		{"duplicate", "services/Maps/createService", `{"serviceName":"Rivers","type":"MapServer"}`, 500,
			"Service 'Maps/Rivers.MapServer' already exists."},
		{"duplicate other case", "services/maps/createService", `{"serviceName":"RIVERS","type":"MapServer"}`, 500,
			"Service 'Maps/RIVERS.MapServer' already exists."},
		{"duplicate at root", "services/createService", `{"serviceName":"SampleWorldCities","type":"MapServer"}`, 500,
			"Service 'SampleWorldCities.MapServer' already exists."},
		{"unknown type", "services/createService", `{"serviceName":"X","type":"FooServer"}`, 400,
			"Service type 'FooServer' is not supported."},
		{"no name", "services/createService", `{"type":"MapServer"}`, 400,
			"The service JSON must contain the 'serviceName' and 'type' properties."},
		{"numeric name", "services/createService", `{"serviceName":5,"type":"MapServer"}`, 400,
			"The service JSON must contain the 'serviceName' and 'type' properties."},
		{"bad name", "services/createService", `{"serviceName":"a b","type":"MapServer"}`, 400,
			"Service name 'a b' is not valid. Service names can only contain letters, numbers and underscores."},
		{"missing folder", "services/Nope/createService", `{"serviceName":"X","type":"MapServer"}`, 404,
			"Could not find resource or operation 'Nope' on the system."},
		{"no service", "services/createService", "", 500, "java.lang.NullPointerException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.postJSON(tc.path, "service", tc.service), tc.code, tc.msg)
		})
	}

	t.Run("delete", func(t *testing.T) {
		wantSuccess(t, e.postJSON("services/Maps/Rivers.MapServer/delete"))
		wantCode(t, e.getJSON("services/Maps/Rivers.MapServer"), 404)
		wantCode(t, e.postJSON("services/Maps/Rivers.MapServer/delete"), 404)
		if m := e.getJSON("services/Maps/Rivers.FeatureServer"); m["serviceName"] != "Rivers" {
			t.Fatalf("sibling deleted: %v", m)
		}
		if got := listNames(t, e.getJSON("services/Maps")); slices.Contains(got, "Maps/Rivers.MapServer") {
			t.Fatalf("listing %v", got)
		}
		wantSuccess(t, e.postJSON("services/SampleWorldCities.MapServer/delete"))
		if got := e.getJSON("services")["services"].([]any); len(got) != 1 {
			t.Fatalf("root services %v", got)
		}
	})
}

func TestServiceTypes(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	m := e.getJSON("services/types")
	var names []string
	for _, x := range m["types"].([]any) {
		ty := x.(map[string]any)
		for _, k := range []string{"Name", "DisplayName", "CLSID", "Description", "CfgFactoryPROGID", "Properties", "Info"} {
			if _, ok := ty[k]; !ok {
				t.Fatalf("type %v lacks %s", ty, k)
			}
		}
		names = append(names, ty["Name"].(string))
	}
	for _, want := range []string{"MapServer", "FeatureServer", "ImageServer", "GPServer", "GeometryServer",
		"GeocodeServer", "GeoDataServer", "GlobeServer", "SearchServer", "StreamServer", "VectorTileServer",
		"SceneServer", "MobileServer", "NAServer"} {
		if !slices.Contains(names, want) {
			t.Errorf("missing type %s", want)
		}
	}
	one := e.getJSON("services/types/MapServer")
	if one["Name"] != "MapServer" || one["ExtensionTypes"] == nil || one["MaxUploadFileSize"] == nil {
		t.Fatalf("type detail %v", one)
	}
	if info := one["Info"].(map[string]any); info["DefaultWebCapabilities"] != "Map,Query,Data" {
		t.Fatalf("Info %v", info)
	}
}

func TestServiceExists(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, tc := range []struct {
		params []string
		want   bool
	}{
		{[]string{"folderName", "Maps", "serviceName", "Parcels", "type", "MapServer"}, true},
		{[]string{"folderName", "maps", "serviceName", "parcels", "type", "MapServer"}, true},
		{[]string{"folderName", "Maps", "serviceName", "Parcels", "type", "FeatureServer"}, false},
		{[]string{"folderName", "", "serviceName", "SampleWorldCities", "type", "MapServer"}, true},
		{[]string{"folderName", "/", "serviceName", "SampleWorldCities", "type", "MapServer"}, true},
		{[]string{"serviceName", "SampleWorldCities", "type", "MapServer"}, true},
		{[]string{"folderName", "Nope", "serviceName", "Parcels", "type", "MapServer"}, false},
		{[]string{"folderName", "Hosted"}, true},
		{[]string{"folderName", "Nope"}, false},
	} {
		t.Run(strings.Join(tc.params, ","), func(t *testing.T) {
			m := e.postJSON("services/exists", tc.params...)
			if !reflect.DeepEqual(m, map[string]any{"exists": tc.want}) {
				t.Fatalf("got %v, want exists=%v", m, tc.want)
			}
		})
	}
}

func TestExtraServices(t *testing.T) {
	e := newEnv(t, simulator.Config{ExtraServices: 250})
	m := e.getJSON("services/Bulk")
	names := listNames(t, m)
	if len(names) != 250 || names[0] != "Bulk/Bulk_0001.MapServer" || names[249] != "Bulk/Bulk_0250.MapServer" {
		t.Fatalf("Bulk listing: %d services, first %v", len(names), names[:1])
	}
	if s := e.getJSON("services/Bulk/Bulk_0042.MapServer/status"); s["configuredState"] != "STARTED" {
		t.Fatalf("status %v", s)
	}
	if got := toStrings(e.getJSON("services")["folders"].([]any)); !slices.Contains(got, "Bulk") {
		t.Fatalf("folders %v", got)
	}
	if got := toStrings(newEnv(t, simulator.Config{}).getJSON("services")["folders"].([]any)); slices.Contains(got, "Bulk") {
		t.Fatalf("Bulk without ExtraServices: %v", got)
	}
}

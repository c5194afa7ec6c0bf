package simulator

import (
	"fmt"
	"strings"
)

// Folder descriptions. The System text is documented
// (docs/upstream.md#services-and-folders); the others are INVENTED.
const (
	descSystem    = "The System folder contains automatically deployed services that are used by ArcGIS Server."
	descUtilities = "The Utilities folder contains automatically deployed utility services such as geometry and printing services."
	descMaps      = "Operational map services."
	descHosted    = "Hosted services."
	descBulk      = "Generated map services used by benchmarks."
)

// Service descriptions. SampleWorldCities and CachingTools are documented
// (docs/upstream.md#services-and-folders,
// docs/upstream.md#recorded-payloads); the others are INVENTED.
const (
	descSampleWorldCities = "The SampleWorldCities service is provided so you can quickly and easily preview the functionality of the GIS server. Click the thumbnail image to open in a web application. This sample service is optional and can be deleted."
	descCachingTools      = "The CachingTools service is used by ArcGIS Server to create and manage map service caches."
)

// defaultServiceConfig returns the configuration keys of a new service of
// the given type, with the defaults of a freshly published service.
func defaultServiceConfig(name, typ string) map[string]any {
	caps := ""
	if t := serviceTypeByName[typ]; t != nil {
		caps = t.Info.DefaultWebCapabilities
	}
	return map[string]any{
		"serviceName":            name,
		"type":                   typ,
		"description":            "",
		"capabilities":           caps,
		"clusterName":            "default",
		"minInstancesPerNode":    1,
		"maxInstancesPerNode":    2,
		"instancesPerContainer":  1,
		"maxWaitTime":            60,
		"maxIdleTime":            1800,
		"maxUsageTime":           600,
		"maxStartupTime":         300,
		"recycleInterval":        24,
		"recycleStartTime":       "00:00",
		"loadBalancing":          "ROUND_ROBIN",
		"isolationLevel":         "HIGH",
		"provider":               "ArcObjects11",
		"private":                false,
		"maxUploadFileSize":      0,
		"allowedUploadFileTypes": "",
		"properties":             map[string]any{},
		"extensions":             []any{},
		"frameworkProperties":    map[string]any{},
		"jsonProperties":         map[string]any{},
		"portalProperties": map[string]any{
			"isHosted":    false,
			"portalItems": []any{},
		},
	}
}

// extension returns a service extension object; enabled is the string
// "true"/"false" as real servers send it.
func extension(typeName, capabilities string, enabled bool, props map[string]any) map[string]any {
	if props == nil {
		props = map[string]any{}
	}
	return map[string]any{
		"typeName":               typeName,
		"capabilities":           capabilities,
		"enabled":                fmt.Sprint(enabled),
		"maxUploadFileSize":      0,
		"allowedUploadFileTypes": "",
		"properties":             props,
	}
}

// mapServiceProperties returns typical MapServer properties (all strings).
func mapServiceProperties(name string) map[string]any {
	return map[string]any{
		"maxRecordCount":            "1000",
		"maxBufferCount":            "100",
		"maxImageHeight":            "4096",
		"maxImageWidth":             "4096",
		"cacheOnDemand":             "false",
		"isCached":                  "false",
		"schemaLockingEnabled":      "true",
		"filePath":                  "${arcgisinput}/" + name + ".MapServer/extracted/p30/" + strings.ToLower(name) + ".mapx",
		"outputDir":                 "/arcgis/server/usr/directories/arcgisoutput",
		"virtualOutputDir":          "/rest/directories/arcgisoutput",
		"supportedImageReturnTypes": "MIME+URL",
	}
}

// gpServiceProperties returns typical GPServer properties (all strings).
func gpServiceProperties(name string) map[string]any {
	return map[string]any{
		"toolbox":              "${AGSSERVER}/ArcToolBox/Services/" + name + ".tbx",
		"executionType":        "Asynchronous",
		"maximumRecords":       "1000",
		"showMessages":         "Info",
		"jobsDirectory":        "/arcgis/server/usr/directories/arcgisjobs",
		"jobsVirtualDirectory": "/rest/directories/arcgisjobs",
		"outputDir":            "/arcgis/server/usr/directories/arcgisoutput",
		"virtualOutputDir":     "/rest/directories/arcgisoutput",
	}
}

// seedService adds a STARTED service built from the type defaults, the
// description and an optional customisation.
func seedService(f *folder, name, typ, desc string, customize func(map[string]any)) *service {
	cfg := defaultServiceConfig(name, typ)
	cfg["description"] = desc
	switch typ {
	case "MapServer":
		cfg["properties"] = mapServiceProperties(name)
	case "GPServer":
		cfg["properties"] = gpServiceProperties(name)
		cfg["capabilities"] = ""
	}
	if customize != nil {
		customize(cfg)
	}
	svc := newService(f.name, cfg)
	f.add(svc)
	return svc
}

// addFolder registers a seeded folder.
func (s *Server) addFolder(name, desc string, isDefault bool) *folder {
	f := newFolder(name, desc, isDefault)
	s.folders[strings.ToLower(name)] = f
	s.folderOrder = append(s.folderOrder, f)
	return f
}

// seed builds the sample site:
//
//	/ (root)   SampleWorldCities.MapServer
//	System     CachingControllers, CachingTools, PublishingTools,
//	           ReportingTools, SceneCachingTools (GPServer)
//	Utilities  Geometry.GeometryServer, OfflinePackaging, PrintingTools,
//	           RasterUtilities, Symbology (GPServer)
//	Hosted     Stations.FeatureServer, Stations.MapServer
//	Maps       Addresses.GeocodeServer, Parcels.MapServer,
//	           Roads.MapServer (STOPPED)
//	Bulk       Bulk_0001.MapServer ... (only when extra > 0)
//
// Every service is STARTED except Maps/Roads.MapServer.
func (s *Server) seed(extra int) {
	s.root = newFolder("", "Root folder", false)
	seedService(s.root, "SampleWorldCities", "MapServer", descSampleWorldCities, func(m map[string]any) {
		m["capabilities"] = "Map,Query,Data"
		m["extensions"] = []any{
			extension("KmlServer", "SingleImage,SeparateImages,Vectors", true, map[string]any{
				"compatibilityMode": "GoogleEarth",
				"imageSize":         "1024",
				"dpi":               "96",
			}),
			extension("FeatureServer", "Query", false, nil),
			extension("WMSServer", "", false, nil),
		}
		m["portalProperties"] = map[string]any{"isHosted": false, "portalItems": []any{}}
	})

	system := s.addFolder("System", descSystem, true)
	seedService(system, "CachingTools", "GPServer", descCachingTools, func(m map[string]any) {
		m["maxInstancesPerNode"] = 4
	})
	seedService(system, "CachingControllers", "GPServer",
		"The CachingControllers service is used by ArcGIS Server to manage map and image service caching jobs.", nil)
	seedService(system, "PublishingTools", "GPServer",
		"The PublishingTools service is used by ArcGIS Server to publish services.", nil)
	seedService(system, "ReportingTools", "GPServer",
		"The ReportingTools service is used by ArcGIS Server to generate reports about map service caches.", nil)
	seedService(system, "SceneCachingTools", "GPServer",
		"The SceneCachingTools service is used by ArcGIS Server to create and manage scene service caches.", nil)

	utilities := s.addFolder("Utilities", descUtilities, true)
	seedService(utilities, "Geometry", "GeometryServer",
		"The Geometry service performs geometric operations such as project, buffer and simplify.", nil)
	seedService(utilities, "PrintingTools", "GPServer",
		"The PrintingTools service is used to print web maps.", func(m map[string]any) {
			m["properties"].(map[string]any)["executionType"] = "Synchronous"
		})
	seedService(utilities, "OfflinePackaging", "GPServer",
		"The OfflinePackaging service creates mobile map packages for offline use.", nil)
	seedService(utilities, "RasterUtilities", "GPServer",
		"The RasterUtilities service is used to work with raster data.", nil)
	seedService(utilities, "Symbology", "GPServer",
		"The Symbology service is used to generate symbology for layers.", func(m map[string]any) {
			m["properties"].(map[string]any)["executionType"] = "Synchronous"
		})

	hosted := s.addFolder("Hosted", descHosted, false)
	hostedPortal := func(m map[string]any) {
		m["provider"] = "DMaps"
		m["portalProperties"] = map[string]any{
			"isHosted": true,
			"portalItems": []any{map[string]any{
				"itemID": stableID("item", "Hosted/Stations"), "type": m["type"],
			}},
		}
	}
	seedService(hosted, "Stations", "MapServer", "Weather stations (hosted).", func(m map[string]any) {
		hostedPortal(m)
		m["extensions"] = []any{extension("FeatureServer", "Query,Create,Update,Delete,Editing", true, map[string]any{
			"maxRecordCount": "2000",
		})}
	})
	seedService(hosted, "Stations", "FeatureServer", "Weather stations (hosted).", func(m map[string]any) {
		hostedPortal(m)
		m["capabilities"] = "Query,Create,Update,Delete,Editing"
		m["properties"] = map[string]any{"maxRecordCount": "2000", "syncEnabled": "false"}
	})

	maps := s.addFolder("Maps", descMaps, false)
	seedService(maps, "Parcels", "MapServer", "Land parcels.", func(m map[string]any) {
		m["extensions"] = []any{extension("KmlServer", "SingleImage,SeparateImages,Vectors", true, nil)}
	})
	roads := seedService(maps, "Roads", "MapServer", "Road network.", nil)
	roads.configuredState, roads.realTimeState = stateStopped, stateStopped
	seedService(maps, "Addresses", "GeocodeServer", "Address locator.", func(m map[string]any) {
		m["properties"] = map[string]any{
			"locator":             "${arcgisinput}/Addresses.GeocodeServer/extracted/p30/Addresses.loc",
			"suggestedBatchSize":  "1000",
			"maxBatchSize":        "1000",
			"maxResultSize":       "50",
			"supportsSingleInput": "true",
		}
	})

	if extra > 0 {
		bulk := s.addFolder("Bulk", descBulk, false)
		for i := 1; i <= extra; i++ {
			name := fmt.Sprintf("Bulk_%04d", i)
			seedService(bulk, name, "MapServer", "Generated map service "+name+".", nil)
		}
	}
}

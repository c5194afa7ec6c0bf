package simulator

// serviceTypeInfo is the Info object of a service type.
type serviceTypeInfo struct {
	AllWebCapabilities     string `json:"AllWebCapabilities"`
	DefaultWebCapabilities string `json:"DefaultWebCapabilities"`
}

// serviceType is an entry of GET /admin/services/types. The PascalCase keys
// are those of the real API (docs/upstream.md#service-types).
type serviceType struct {
	Name               string            `json:"Name"`
	DisplayName        string            `json:"DisplayName"`
	CLSID              string            `json:"CLSID"`
	Description        string            `json:"Description"`
	CfgFactoryPROGID   string            `json:"CfgFactoryPROGID"`
	ObjectFactoryCLSID string            `json:"ObjectFactoryCLSID,omitempty"`
	Properties         map[string]string `json:"Properties"`
	Info               serviceTypeInfo   `json:"Info"`

	// Served only by GET /admin/services/types/<Type>.
	maxUploadFileSize      int
	allowedUploadFileTypes string
	extensionTypes         []string
}

// serviceTypes lists the supported service types. The GlobeServer and
// MapServer entries follow the documented example; the other CLSIDs, PROGIDs
// and capability lists are plausible but INVENTED.
var serviceTypes = []*serviceType{
	newServiceType("MapServer", "Map Service", "esriCarto.MapServerObjectFactory*", "Esri Map Server",
		"esriCarto.MapServerConfigurationFactory", "esriCarto.MapServerObjectFactory",
		"Map,Query,Data", "Map,Query,Data",
		"FeatureServer", "KmlServer", "WMSServer", "WFSServer", "WCSServer", "NAServer", "VersionManagementServer"),
	newServiceType("FeatureServer", "Feature Service", "esriCarto.FeatureServerObjectFactory*", "Esri Feature Server",
		"esriCarto.FeatureServerConfigurationFactory", "",
		"Create,Delete,Query,Update,Uploads,Editing,Sync,Extract", "Query"),
	newServiceType("ImageServer", "Image Service", "esriCarto.ImageServer", "Esri Image Server",
		"esriCarto.ImageServerConfigurationFactory", "",
		"Image,Catalog,Metadata,Download,Pixels,Edit,Mensuration", "Image,Metadata", "WMSServer", "WCSServer"),
	newServiceType("GPServer", "Geoprocessing Service", "esriGeoprocessing.GPServerObjectFactory*", "Esri Geoprocessing Server",
		"esriGeoprocessing.GPServerConfigurationFactory", "esriGeoprocessing.GPServerObjectFactory",
		"Uploads", "", "WPSServer"),
	newServiceType("GeometryServer", "Geometry Service", "esriCarto.GeometryServer", "Esri Geometry Server",
		"esriCarto.GeometryServerConfigurationFactory", "", "", ""),
	newServiceType("GeocodeServer", "Geocode Service", "esriLocation.GeocodeServer", "Esri Geocode Server",
		"esriLocation.GeocodeServerConfigurationFactory", "",
		"Geocode,ReverseGeocode,Suggest", "Geocode,ReverseGeocode,Suggest"),
	newServiceType("GeoDataServer", "GeoData Service", "esriGeoDatabaseDistributed.GeoDataServer", "Esri GeoData Server",
		"esriGeoDatabaseDistributed.GeoDataServerConfigurationFactory", "",
		"Query,Extraction,Replication", "Query,Extraction,Replication"),
	newServiceType("GlobeServer", "Globe Service", "esriGlobeCore.GlobeServer", "Esri Globe Server",
		"esriGlobeCore.GlobeServerConfigurationFactory", "",
		"Globe,Animation,Query", "Globe,Animation,Query"),
	newServiceType("SearchServer", "Search Service", "esriSearch.SearchServer", "Esri Search Server",
		"esriSearch.SearchServerConfigurationFactory", "", "", ""),
	newServiceType("StreamServer", "Stream Service", "esriGeoEvent.StreamServer", "Esri Stream Server",
		"esriGeoEvent.StreamServerConfigurationFactory", "", "Subscribe", "Subscribe"),
	newServiceType("VectorTileServer", "Vector Tile Service", "esriCarto.VectorTileServer", "Esri Vector Tile Server",
		"esriCarto.VectorTileServerConfigurationFactory", "", "TilesOnly", "TilesOnly"),
	newServiceType("SceneServer", "Scene Service", "esriCarto.SceneServer", "Esri Scene Server",
		"esriCarto.SceneServerConfigurationFactory", "", "View,Query", "View,Query"),
	newServiceType("MobileServer", "Mobile Service", "esriCarto.MobileServer", "Esri Mobile Server",
		"esriCarto.MobileServerConfigurationFactory", "", "", ""),
	newServiceType("NAServer", "Network Analysis Service", "esriNetworkAnalyst.NAServer", "Esri Network Analysis Server",
		"esriNetworkAnalyst.NAServerConfigurationFactory", "",
		"Route,ClosestFacility,ServiceArea,LocationAllocation", "Route,ClosestFacility,ServiceArea"),
}

// serviceTypeByName indexes serviceTypes by exact Name.
var serviceTypeByName = func() map[string]*serviceType {
	m := make(map[string]*serviceType, len(serviceTypes))
	for _, t := range serviceTypes {
		m[t.Name] = t
	}
	return m
}()

// newServiceType builds a serviceType.
func newServiceType(name, display, clsid, desc, cfgFactory, objFactory, allCaps, defaultCaps string, extensions ...string) *serviceType {
	return &serviceType{
		Name: name, DisplayName: display, CLSID: clsid, Description: desc,
		CfgFactoryPROGID: cfgFactory, ObjectFactoryCLSID: objFactory,
		Properties:             map[string]string{},
		Info:                   serviceTypeInfo{AllWebCapabilities: allCaps, DefaultWebCapabilities: defaultCaps},
		maxUploadFileSize:      0,
		allowedUploadFileTypes: "",
		extensionTypes:         extensions,
	}
}

// serveTypes implements GET /admin/services/types and
// GET /admin/services/types/<Type>.
func (s *Server) serveTypes(c *call, rest []string) {
	switch len(rest) {
	case 0:
		c.writeJSON(struct {
			Types []*serviceType `json:"types"`
		}{serviceTypes})
	case 1:
		t := serviceTypeByName[rest[0]]
		if t == nil {
			c.notFound(rest[0])
			return
		}
		ext := t.extensionTypes
		if ext == nil {
			ext = []string{}
		}
		c.writeJSON(struct {
			serviceType
			MaxUploadFileSize      int      `json:"MaxUploadFileSize"`
			AllowedUploadFileTypes string   `json:"AllowedUploadFileTypes"`
			ExtensionTypes         []string `json:"ExtensionTypes"`
		}{*t, t.maxUploadFileSize, t.allowedUploadFileTypes, ext})
	default:
		c.notFound(rest[1])
	}
}

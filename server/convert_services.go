package server

import (
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

var serviceTypes = map[string]adminv1.ServiceType{
	"MapServer":        adminv1.ServiceType_SERVICE_TYPE_MAP_SERVER,
	"FeatureServer":    adminv1.ServiceType_SERVICE_TYPE_FEATURE_SERVER,
	"ImageServer":      adminv1.ServiceType_SERVICE_TYPE_IMAGE_SERVER,
	"GPServer":         adminv1.ServiceType_SERVICE_TYPE_GP_SERVER,
	"GeometryServer":   adminv1.ServiceType_SERVICE_TYPE_GEOMETRY_SERVER,
	"GeocodeServer":    adminv1.ServiceType_SERVICE_TYPE_GEOCODE_SERVER,
	"GeoDataServer":    adminv1.ServiceType_SERVICE_TYPE_GEO_DATA_SERVER,
	"GlobeServer":      adminv1.ServiceType_SERVICE_TYPE_GLOBE_SERVER,
	"SearchServer":     adminv1.ServiceType_SERVICE_TYPE_SEARCH_SERVER,
	"StreamServer":     adminv1.ServiceType_SERVICE_TYPE_STREAM_SERVER,
	"VectorTileServer": adminv1.ServiceType_SERVICE_TYPE_VECTOR_TILE_SERVER,
	"SceneServer":      adminv1.ServiceType_SERVICE_TYPE_SCENE_SERVER,
	"MobileServer":     adminv1.ServiceType_SERVICE_TYPE_MOBILE_SERVER,
	"NAServer":         adminv1.ServiceType_SERVICE_TYPE_NA_SERVER,
}

// serviceState maps an upstream state string; unknown strings are
// UNSPECIFIED.
func serviceState(s string) adminv1.ServiceState {
	switch strings.ToUpper(s) {
	case "STARTED":
		return adminv1.ServiceState_SERVICE_STATE_STARTED
	case "STOPPED":
		return adminv1.ServiceState_SERVICE_STATE_STOPPED
	case "STARTING":
		return adminv1.ServiceState_SERVICE_STATE_STARTING
	case "STOPPING":
		return adminv1.ServiceState_SERVICE_STATE_STOPPING
	}
	return adminv1.ServiceState_SERVICE_STATE_UNSPECIFIED
}

func folderFromInfo(fi upstream.FolderInfo) *adminv1.Folder {
	return &adminv1.Folder{
		Name:         folderResourceName(fi.FolderName),
		FolderId:     fi.FolderName,
		Description:  fi.Description,
		WebEncrypted: fi.WebEncrypted,
		IsDefault:    fi.IsDefault,
		Uid:          fi.ID,
		Etag:         etagOf(fi),
	}
}

// fillFromSummary sets svc, a new Service, from a listing entry, all but
// its resource name (see setSummaryNames). folder is the folder the
// listing was of, used when the entry does not say ("" or "/" = root).
func fillFromSummary(svc *adminv1.Service, folder string, s upstream.ServiceSummary) {
	f := s.FolderName
	if f == "/" {
		f = ""
	}
	if f == "" {
		f = folder
	}
	svc.Folder = f
	svc.ServiceName = s.ServiceName
	svc.Type = serviceTypes[s.Type]
	svc.TypeName = s.Type
	svc.Description = s.Description
	svc.Uid = s.ID
}

// setSummaryNames sets the resource names of services filled by
// fillFromSummary, as serviceRef.resourceName spells them, slicing them
// from one string: one allocation for a listing's names, not one each.
func setSummaryNames(svcs []adminv1.Service) {
	nameLen := func(s *adminv1.Service) int {
		n := len(s.ServiceName) + 1 + len(s.TypeName)
		if s.Folder == "" {
			return n + len("services/")
		}
		return n + len("folders/") + len(s.Folder) + len("/services/")
	}
	total := 0
	for i := range svcs {
		total += nameLen(&svcs[i])
	}
	var b strings.Builder
	b.Grow(total)
	for i := range svcs {
		s := &svcs[i]
		if s.Folder == "" {
			b.WriteString("services/")
		} else {
			b.WriteString("folders/")
			b.WriteString(s.Folder)
			b.WriteString("/services/")
		}
		b.WriteString(s.ServiceName)
		b.WriteByte('.')
		b.WriteString(s.TypeName)
	}
	all, off := b.String(), 0
	for i := range svcs {
		n := nameLen(&svcs[i])
		svcs[i].Name = all[off : off+n]
		off += n
	}
}

func seconds(n int) *durationpb.Duration { return durationpb.New(time.Duration(n) * time.Second) }

// splitList splits a comma-separated list, dropping empty entries and
// the spaces around each (nil for none), in one allocation.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	out := make([]string, 0, strings.Count(s, ",")+1)
	for {
		p, rest, more := strings.Cut(s, ",")
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
		if !more {
			break
		}
		s = rest
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// serviceFromConfig converts a full configuration; status may be nil.
func serviceFromConfig(ref serviceRef, c *upstream.ServiceConfig, st *upstream.ServiceStatus) *adminv1.Service {
	typ := c.Type
	if typ == "" {
		typ = ref.Type
	}
	name := c.ServiceName
	if name == "" {
		name = ref.Name
	}
	out := &adminv1.Service{
		Name:                  ref.resourceName(),
		Folder:                ref.Folder,
		ServiceName:           name,
		Type:                  serviceTypes[typ],
		TypeName:              typ,
		Description:           c.Description,
		Capabilities:          splitList(c.Capabilities),
		ClusterName:           c.ClusterName,
		MinInstancesPerNode:   int32(c.MinInstancesPerNode),
		MaxInstancesPerNode:   int32(c.MaxInstancesPerNode),
		InstancesPerContainer: int32(c.InstancesPerContainer),
		MaxWaitDuration:       seconds(c.MaxWaitTime),
		MaxIdleDuration:       seconds(c.MaxIdleTime),
		MaxUsageDuration:      seconds(c.MaxUsageTime),
		MaxStartupDuration:    seconds(c.MaxStartupTime),
		RecycleInterval:       durationpb.New(time.Duration(c.RecycleInterval) * time.Hour),
		RecycleStartTimeOfDay: c.RecycleStartTime,
		LoadBalancing:         c.LoadBalancing,
		IsolationLevel:        c.IsolationLevel,
		Provider:              c.Provider,
		Private:               c.Private,
		Properties:            c.Properties,
		Uid:                   c.ID,
		Etag:                  etagOf(c),
	}
	for _, e := range c.Extensions {
		out.Extensions = append(out.Extensions, &adminv1.ServiceExtension{
			TypeName:     e.TypeName,
			Capabilities: splitList(e.Capabilities),
			Enabled:      e.Enabled,
			Properties:   e.Properties,
		})
	}
	if st != nil {
		out.ConfiguredState = serviceState(st.ConfiguredState)
		out.RealTimeState = serviceState(st.RealTimeState)
	}
	return out
}

// serviceFields are the update_mask paths UpdateService accepts, each with
// the function that copies the field from the request into the upstream
// configuration. A path may also be `properties.<key>` to set one property.
var serviceFields = map[string]func(dst *upstream.ServiceConfig, src *adminv1.Service) error{
	"description": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		d.Description = s.GetDescription()
		return nil
	},
	"capabilities": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		d.Capabilities = strings.Join(s.GetCapabilities(), ",")
		return nil
	},
	"cluster_name": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		d.ClusterName = s.GetClusterName()
		return nil
	},
	"min_instances_per_node": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		d.MinInstancesPerNode = int(s.GetMinInstancesPerNode())
		return nil
	},
	"max_instances_per_node": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		d.MaxInstancesPerNode = int(s.GetMaxInstancesPerNode())
		return nil
	},
	"instances_per_container": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		d.InstancesPerContainer = int(s.GetInstancesPerContainer())
		return nil
	},
	"max_wait_duration":    durationField("max_wait_duration", time.Second, func(d *upstream.ServiceConfig) *int { return &d.MaxWaitTime }, (*adminv1.Service).GetMaxWaitDuration),
	"max_idle_duration":    durationField("max_idle_duration", time.Second, func(d *upstream.ServiceConfig) *int { return &d.MaxIdleTime }, (*adminv1.Service).GetMaxIdleDuration),
	"max_usage_duration":   durationField("max_usage_duration", time.Second, func(d *upstream.ServiceConfig) *int { return &d.MaxUsageTime }, (*adminv1.Service).GetMaxUsageDuration),
	"max_startup_duration": durationField("max_startup_duration", time.Second, func(d *upstream.ServiceConfig) *int { return &d.MaxStartupTime }, (*adminv1.Service).GetMaxStartupDuration),
	"recycle_interval":     durationField("recycle_interval", time.Hour, func(d *upstream.ServiceConfig) *int { return &d.RecycleInterval }, (*adminv1.Service).GetRecycleInterval),
	"recycle_start_time_of_day": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		if v := s.GetRecycleStartTimeOfDay(); v != "" {
			if _, err := time.Parse("15:04", v); err != nil {
				return invalidArgument("service.recycle_start_time_of_day", "must be a time of day HH:MM")
			}
		}
		d.RecycleStartTime = s.GetRecycleStartTimeOfDay()
		return nil
	},
	"load_balancing": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		d.LoadBalancing = s.GetLoadBalancing()
		return nil
	},
	"isolation_level": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		d.IsolationLevel = s.GetIsolationLevel()
		return nil
	},
	"provider": func(d *upstream.ServiceConfig, s *adminv1.Service) error { d.Provider = s.GetProvider(); return nil },
	"private":  func(d *upstream.ServiceConfig, s *adminv1.Service) error { d.Private = s.GetPrivate(); return nil },
	"properties": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		d.Properties = map[string]string{}
		for k, v := range s.GetProperties() {
			d.Properties[k] = v
		}
		return nil
	},
	"extensions": func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		old := map[string]upstream.Extension{}
		for _, e := range d.Extensions {
			old[e.TypeName] = e
		}
		d.Extensions = nil
		for i, e := range s.GetExtensions() {
			if e.GetTypeName() == "" {
				return invalidArgument("service.extensions["+itoa(i)+"].type_name", "must not be empty")
			}
			ext := old[e.GetTypeName()] // keep what the API does not model
			ext.TypeName = e.GetTypeName()
			ext.Capabilities = strings.Join(e.GetCapabilities(), ",")
			ext.Enabled = e.GetEnabled()
			ext.Properties = e.GetProperties()
			d.Extensions = append(d.Extensions, ext)
		}
		return nil
	},
}

// createFields are applied on CreateService (everything settable).
var createFields = func() []string {
	var out []string
	for k := range serviceFields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}()

func durationField(path string, unit time.Duration, dst func(*upstream.ServiceConfig) *int, src func(*adminv1.Service) *durationpb.Duration) func(*upstream.ServiceConfig, *adminv1.Service) error {
	return func(d *upstream.ServiceConfig, s *adminv1.Service) error {
		v := src(s)
		if v == nil {
			*dst(d) = 0
			return nil
		}
		if err := v.CheckValid(); err != nil || v.AsDuration() < 0 {
			return invalidArgument("service."+path, "must be a valid, non-negative duration")
		}
		dur := v.AsDuration()
		if dur%unit != 0 {
			return invalidArgument("service."+path, "must be a whole number of "+unitName(unit))
		}
		*dst(d) = int(dur / unit)
		return nil
	}
}

func unitName(u time.Duration) string {
	if u == time.Hour {
		return "hours"
	}
	return "seconds"
}

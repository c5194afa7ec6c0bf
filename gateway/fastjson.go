package gateway

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// fastJSON writes the JSON of a service, a service list and an item info
// itself, the answers of GetService, ListServices and GetItemInfo, and
// leaves every other message to its Marshaler (protojson). protojson walks each message by reflection and sorts its
// fields; on a 20-service page that was a fifth of a REST call's CPU. The
// output is the same JSON as protojson's with the options New sets (JSON
// field names, default values omitted); TestFastJSONMatchesProtojson
// checks it field by field. A string that is not UTF-8, a duration
// out of range, unknown fields, or a message with fields this file does
// not know go to protojson.
type fastJSON struct {
	runtime.Marshaler
}

// The first buffer sizes: above what the simulator's answers take (a
// service 1 136 bytes, 345 a listed one), so that
// these are written without growing the buffer (which cost one more
// allocation and a copy per GetService with 1 024).
const (
	serviceSize       = 2048
	listedServiceSize = 384
	itemInfoSize      = 1024
)

// Marshal implements runtime.Marshaler.
func (m fastJSON) Marshal(v any) ([]byte, error) {
	switch r := v.(type) {
	case *adminv1.ListServicesResponse:
		if !serviceFieldsKnown {
			break
		}
		if b, ok := appendListServices(make([]byte, 0, listedServiceSize*len(r.GetServices())+64), r); ok {
			return b, nil
		}
	case *adminv1.Service:
		if !serviceFieldsKnown {
			break
		}
		if b, ok := appendService(make([]byte, 0, serviceSize), r); ok {
			return b, nil
		}
	case *adminv1.ItemInfo:
		if !itemInfoFieldsKnown {
			break
		}
		if b, ok := appendItemInfo(make([]byte, 0, itemInfoSize), r); ok {
			return b, nil
		}
	}
	return m.Marshaler.Marshal(v)
}

// serviceFields are the Service fields appendService writes, in field
// number order; serviceFieldsKnown is false when the message has others.
var serviceFields = []string{"name", "folder", "service_name", "type", "type_name", "description",
	"capabilities", "cluster_name", "min_instances_per_node", "max_instances_per_node",
	"instances_per_container", "max_wait_duration", "max_idle_duration", "max_usage_duration",
	"max_startup_duration", "recycle_interval", "recycle_start_time_of_day", "load_balancing",
	"isolation_level", "provider", "private", "properties", "extensions", "configured_state",
	"real_time_state", "uid", "etag"}

var serviceFieldsKnown = fieldsAre((&adminv1.Service{}).ProtoReflect().Descriptor(), serviceFields) &&
	fieldsAre((&adminv1.ListServicesResponse{}).ProtoReflect().Descriptor(), []string{"services", "next_page_token"}) &&
	fieldsAre((&adminv1.ServiceExtension{}).ProtoReflect().Descriptor(), []string{"type_name", "capabilities", "enabled", "properties"})

// itemInfoFieldsKnown is false when ItemInfo or Envelope has fields
// appendItemInfo does not write.
var itemInfoFieldsKnown = fieldsAre((&adminv1.ItemInfo{}).ProtoReflect().Descriptor(), []string{"name", "title", "summary",
	"snippet", "description", "tags", "type_keywords", "culture", "guid", "access_information", "license_info",
	"documentation", "url", "extent", "spatial_reference", "thumbnail", "etag"}) &&
	fieldsAre((&adminv1.Envelope{}).ProtoReflect().Descriptor(), []string{"xmin", "ymin", "xmax", "ymax"})

// fieldsAre reports whether md has exactly the fields names, numbered 1 to
// len(names) in that order, none of them a oneof member.
func fieldsAre(md protoreflect.MessageDescriptor, names []string) bool {
	fds := md.Fields()
	if fds.Len() != len(names) || md.Oneofs().Len() != 0 {
		return false
	}
	for i, n := range names {
		fd := fds.Get(i)
		if string(fd.Name()) != n || int(fd.Number()) != i+1 {
			return false
		}
	}
	return true
}

func appendListServices(b []byte, r *adminv1.ListServicesResponse) ([]byte, bool) {
	w := jsonObject{b: b}
	if svcs := r.GetServices(); len(svcs) > 0 {
		w.key("services")
		w.b = append(w.b, '[')
		for i, s := range svcs {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			var ok bool
			if w.b, ok = appendService(w.b, s); !ok {
				return nil, false
			}
		}
		w.b = append(w.b, ']')
	}
	w.str("nextPageToken", r.GetNextPageToken())
	return w.end()
}

func appendService(b []byte, s *adminv1.Service) ([]byte, bool) {
	if len(s.ProtoReflect().GetUnknown()) > 0 {
		return nil, false
	}
	w := jsonObject{b: b}
	w.str("name", s.GetName())
	w.str("folder", s.GetFolder())
	w.str("serviceName", s.GetServiceName())
	w.enum("type", s.GetType())
	w.str("typeName", s.GetTypeName())
	w.str("description", s.GetDescription())
	w.list("capabilities", s.GetCapabilities())
	w.str("clusterName", s.GetClusterName())
	w.int("minInstancesPerNode", s.GetMinInstancesPerNode())
	w.int("maxInstancesPerNode", s.GetMaxInstancesPerNode())
	w.int("instancesPerContainer", s.GetInstancesPerContainer())
	w.duration("maxWaitDuration", s.GetMaxWaitDuration())
	w.duration("maxIdleDuration", s.GetMaxIdleDuration())
	w.duration("maxUsageDuration", s.GetMaxUsageDuration())
	w.duration("maxStartupDuration", s.GetMaxStartupDuration())
	w.duration("recycleInterval", s.GetRecycleInterval())
	w.str("recycleStartTimeOfDay", s.GetRecycleStartTimeOfDay())
	w.str("loadBalancing", s.GetLoadBalancing())
	w.str("isolationLevel", s.GetIsolationLevel())
	w.str("provider", s.GetProvider())
	w.bool("private", s.GetPrivate())
	w.props("properties", s.GetProperties())
	if exts := s.GetExtensions(); len(exts) > 0 {
		w.key("extensions")
		w.b = append(w.b, '[')
		for i, x := range exts {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			if x == nil || len(x.ProtoReflect().GetUnknown()) > 0 {
				w.bad = true
				break
			}
			e := jsonObject{b: w.b}
			e.str("typeName", x.GetTypeName())
			e.list("capabilities", x.GetCapabilities())
			e.bool("enabled", x.GetEnabled())
			e.props("properties", x.GetProperties())
			var ok bool
			if w.b, ok = e.end(); !ok {
				w.bad = true
			}
		}
		w.b = append(w.b, ']')
	}
	w.enum("configuredState", s.GetConfiguredState())
	w.enum("realTimeState", s.GetRealTimeState())
	w.str("uid", s.GetUid())
	w.str("etag", s.GetEtag())
	return w.end()
}

func appendItemInfo(b []byte, s *adminv1.ItemInfo) ([]byte, bool) {
	if len(s.ProtoReflect().GetUnknown()) > 0 {
		return nil, false
	}
	w := jsonObject{b: b}
	w.str("name", s.GetName())
	w.str("title", s.GetTitle())
	w.str("summary", s.GetSummary())
	w.str("snippet", s.GetSnippet())
	w.str("description", s.GetDescription())
	w.list("tags", s.GetTags())
	w.list("typeKeywords", s.GetTypeKeywords())
	w.str("culture", s.GetCulture())
	w.str("guid", s.GetGuid())
	w.str("accessInformation", s.GetAccessInformation())
	w.str("licenseInfo", s.GetLicenseInfo())
	w.str("documentation", s.GetDocumentation())
	w.str("url", s.GetUrl())
	if e := s.GetExtent(); e != nil {
		if len(e.ProtoReflect().GetUnknown()) > 0 {
			return nil, false
		}
		w.key("extent")
		x := jsonObject{b: w.b}
		x.double("xmin", e.GetXmin())
		x.double("ymin", e.GetYmin())
		x.double("xmax", e.GetXmax())
		x.double("ymax", e.GetYmax())
		w.b, _ = x.end()
	}
	w.str("spatialReference", s.GetSpatialReference())
	w.str("thumbnail", s.GetThumbnail())
	w.str("etag", s.GetEtag())
	return w.end()
}

// jsonObject appends one JSON object's members to b, as protojson writes
// them; bad is set by a value protojson would not write (it then fails or
// is left to it).
type jsonObject struct {
	b    []byte
	n    int
	bad  bool
	open bool
}

func (w *jsonObject) key(k string) {
	if !w.open {
		w.b = append(w.b, '{')
		w.open = true
	}
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonObject) end() ([]byte, bool) {
	if !w.open {
		w.b = append(w.b, '{')
	}
	return append(w.b, '}'), !w.bad
}

func (w *jsonObject) str(k, v string) {
	if v != "" {
		w.key(k)
		w.quote(v)
	}
}

func (w *jsonObject) bool(k string, v bool) {
	if v {
		w.key(k)
		w.b = append(w.b, "true"...)
	}
}

func (w *jsonObject) list(k string, v []string) {
	if len(v) == 0 {
		return
	}
	w.key(k)
	w.b = append(w.b, '[')
	for i, s := range v {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.quote(s)
	}
	w.b = append(w.b, ']')
}

// props writes a string map with its keys in order, as protojson does.
func (w *jsonObject) props(k string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	w.key(k)
	w.b = append(w.b, '{')
	var buf [32]string // a service's maps are small: no allocation
	keys := buf[:0]
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for i, key := range keys {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.quote(key)
		w.b = append(w.b, ':')
		w.quote(m[key])
	}
	w.b = append(w.b, '}')
}

func (w *jsonObject) int(k string, v int32) {
	if v != 0 {
		w.key(k)
		w.b = strconv.AppendInt(w.b, int64(v), 10)
	}
}

// double writes a set double as protojson does (-0 is set): encoding/json's
// format, NaN and infinities as strings.
func (w *jsonObject) double(k string, v float64) {
	if v == 0 && !math.Signbit(v) {
		return
	}
	w.key(k)
	switch {
	case math.IsNaN(v):
		w.b = append(w.b, `"NaN"`...)
		return
	case math.IsInf(v, 1):
		w.b = append(w.b, `"Infinity"`...)
		return
	case math.IsInf(v, -1):
		w.b = append(w.b, `"-Infinity"`...)
		return
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.b = strconv.AppendFloat(w.b, v, format, -1, 64)
	if n := len(w.b); format == 'e' && n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
		w.b[n-2] = w.b[n-1] // e-07 as e-7
		w.b = w.b[:n-1]
	}
}

// enum writes an enum value by name, by number when it has none.
func (w *jsonObject) enum(k string, v interface {
	protoreflect.Enum
	String() string
}) {
	n := v.Number()
	if n == 0 {
		return
	}
	w.key(k)
	if ev := v.Descriptor().Values().ByNumber(n); ev != nil {
		w.quote(string(ev.Name()))
	} else {
		w.b = strconv.AppendInt(w.b, int64(n), 10)
	}
}

// duration writes a set duration as protojson does: seconds with 0, 3, 6
// or 9 fractional digits and "s".
func (w *jsonObject) duration(k string, d *durationpb.Duration) {
	if d == nil {
		return
	}
	secs, nanos := d.GetSeconds(), int64(d.GetNanos())
	if secs < -315576000000 || secs > 315576000000 || nanos <= -1e9 || nanos >= 1e9 ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) || len(d.ProtoReflect().GetUnknown()) > 0 {
		w.bad = true // protojson fails: let it say why
		return
	}
	w.key(k)
	w.b = append(w.b, '"')
	if secs < 0 || nanos < 0 {
		w.b = append(w.b, '-')
		secs, nanos = -secs, -nanos
	}
	w.b = strconv.AppendInt(w.b, secs, 10)
	if nanos != 0 {
		frac := strconv.FormatInt(nanos+1e9, 10)[1:] // 9 digits
		frac = strings.TrimSuffix(frac, "000")
		frac = strings.TrimSuffix(frac, "000")
		w.b = append(w.b, '.')
		w.b = append(w.b, frac...)
	}
	w.b = append(w.b, 's', '"')
}

// quote writes s as a JSON string, escaped as protojson escapes: quote,
// backslash and control characters only. Invalid UTF-8 sets bad.
func (w *jsonObject) quote(s string) {
	w.b = append(w.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				w.bad = true
				return
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		w.b = append(w.b, s[start:i]...)
		switch c {
		case '"', '\\':
			w.b = append(w.b, '\\', c)
		case '\b':
			w.b = append(w.b, '\\', 'b')
		case '\f':
			w.b = append(w.b, '\\', 'f')
		case '\n':
			w.b = append(w.b, '\\', 'n')
		case '\r':
			w.b = append(w.b, '\\', 'r')
		case '\t':
			w.b = append(w.b, '\\', 't')
		default:
			w.b = append(w.b, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		i++
		start = i
	}
	w.b = append(w.b, s[start:]...)
	w.b = append(w.b, '"')
}

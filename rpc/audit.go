package rpc

import (
	"context"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// maxAuditValue bounds a request value copied into an audit line.
const maxAuditValue = 256

// audit writes the audit line of a known caller's mutation: who (caller
// and how it authenticated), what (method, the resource named
// by the request, or else by the response resp, which may be nil, and for
// role memberships and privileges the users or the privilege), and the
// result (status code and, on failure, the status message). Request bodies
// are never logged, so no secret is.
func (g *Guard) audit(ctx context.Context, caller Caller, known bool, method string, r methodRule, req, resp any, err error, d time.Duration) {
	code := status.Code(err)
	attrs := []slog.Attr{
		slog.String("caller", callerName(caller, known)),
		slog.String("auth", caller.Auth),
		slog.String("method", method),
		slog.String("scope", scopeName(r.scope)),
	}
	if t, ok := req.(*decodeTarget); ok { // a stream's request, as MalformedRequests receives it
		req = t.Message
	}
	if m, ok := req.(proto.Message); ok {
		resource, id := resourceOf(m)
		if out, ok := resp.(proto.Message); ok && (resource == "" || isCollection(resource)) {
			if named, _ := resourceOf(out); named != "" { // e.g. a generated usage report id
				resource = named
			}
		}
		attrs = append(attrs, slog.String("resource", resource))
		if id != "" {
			attrs = append(attrs, slog.String("id", id))
		}
		attrs = append(attrs, auditDetails(m)...)
	}
	attrs = append(attrs, slog.String("code", code.String()), slog.Duration("duration", d))
	if err != nil {
		attrs = append(attrs, slog.String("error", clip(status.Convert(err).Message())))
	}
	level := slog.LevelInfo
	if code != codes.OK {
		level = slog.LevelWarn
	}
	g.log.LogAttrs(ctx, level, "audit", attrs...)
}

// singletonResources name the resource of a request that may leave its
// name empty, by request type.
var singletonResources = map[protoreflect.FullName]string{
	"arcgate.admin.v1.UpdateUsageStatisticsSettingsRequest": "usageStatisticsSettings",
}

// resourceOf returns the resource a request is about: its name field, else
// its role field (the role methods that are not about a Role message),
// else for a create request the new resource's name (parent, collection
// and the *_id field: CreateFolderRequest.folder_id "Maps" is
// folders/Maps), else its parent field, else the name field of its first
// message field that has one set (e.g. UpdateFolderRequest.folder.name),
// else, for a create request without an id, the collection (usageReports),
// else the singleton the request type is about. id is the value of a
// top-level *_id field, the part of a new resource's name a create request
// carries separately.
func resourceOf(m proto.Message) (resource, id string) {
	msg := m.ProtoReflect()
	if !msg.IsValid() {
		return "", ""
	}
	fields := msg.Descriptor().Fields()
	var idField protoreflect.FieldDescriptor
	for i := 0; i < fields.Len() && idField == nil; i++ {
		fd := fields.Get(i)
		// request_id is an idempotency key, not the id of a resource.
		if fd.Name() != "request_id" && strings.HasSuffix(string(fd.Name()), "_id") && fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() {
			idField, id = fd, msg.Get(fd).String()
		}
	}
	parent := stringField(msg, "parent")
	switch {
	case stringField(msg, "name") != "":
		resource = stringField(msg, "name")
	case stringField(msg, "role") != "":
		resource = stringField(msg, "role")
	case id != "":
		resource = collectionOf(idField) + "/" + id
		if parent != "" {
			resource = parent + "/" + resource
		}
	case parent != "":
		resource = parent
	}
	if fd := fields.ByName("names"); resource == "" && fd != nil && fd.IsList() && fd.Kind() == protoreflect.StringKind {
		// A batch request (BatchStartServices): the resources it names.
		l := msg.Get(fd).List()
		names := make([]string, l.Len())
		for i := range names {
			names[i] = l.Get(i).String()
		}
		resource = strings.Join(names, ",")
	}
	for i := 0; i < fields.Len() && resource == ""; i++ {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() || !msg.Has(fd) {
			continue
		}
		resource = stringField(msg.Get(fd).Message(), "name")
	}
	if resource == "" && idField != nil {
		resource = collectionOf(idField)
	}
	if resource == "" {
		resource = singletonResources[msg.Descriptor().FullName()]
	}
	return clip(resource), clip(id)
}

// collectionOf returns the collection an id field names a member of, in
// resource-name spelling: folder_id → folders, usage_report_id →
// usageReports.
func collectionOf(idField protoreflect.FieldDescriptor) string {
	return string(idField.JSONName()[:len(idField.JSONName())-len("Id")]) + "s"
}

// isCollection reports whether resource is a bare collection or singleton
// (no slash), as resourceOf names a create request without an id.
func isCollection(resource string) bool { return !strings.Contains(resource, "/") }

// auditDetails are the attributes of a role membership or privilege change
// beyond the role: the users (clipped) or the privilege.
func auditDetails(m proto.Message) []slog.Attr {
	switch m := m.(type) {
	case *adminv1.AddRoleUsersRequest:
		return []slog.Attr{slog.String("users", clip(strings.Join(m.GetUsers(), ",")))}
	case *adminv1.RemoveRoleUsersRequest:
		return []slog.Attr{slog.String("users", clip(strings.Join(m.GetUsers(), ",")))}
	case *adminv1.SetRolePrivilegeRequest:
		return []slog.Attr{slog.String("privilege", m.GetPrivilege().String())}
	}
	return nil
}

// stringField returns the value of msg's singular string field called name.
func stringField(msg protoreflect.Message, name protoreflect.Name) string {
	fd := msg.Descriptor().Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() || fd.IsMap() {
		return ""
	}
	return msg.Get(fd).String()
}

// clip shortens s for a log line to at most maxAuditValue bytes on a rune
// boundary, marking the cut with "...".
func clip(s string) string {
	if len(s) <= maxAuditValue {
		return s
	}
	cut := maxAuditValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

package server

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxAuditValue bounds a request value copied into an audit line.
const maxAuditValue = 256

// audit writes the audit line of a mutation: who (caller and how it
// authenticated, or "(unauthenticated)"), what (method and the resource
// named by the request), and the result (status code and, on failure, the
// status message). Request bodies are never logged, so no secret is.
func (g *Guard) audit(ctx context.Context, caller Caller, known bool, method string, r methodRule, req any, err error, d time.Duration) {
	code := status.Code(err)
	attrs := []slog.Attr{
		slog.String("caller", callerName(caller, known)),
		slog.String("auth", caller.Auth),
		slog.String("method", method),
		slog.String("scope", scopeName(r.scope)),
	}
	if m, ok := req.(proto.Message); ok {
		resource, id := resourceOf(m)
		attrs = append(attrs, slog.String("resource", resource))
		if id != "" {
			attrs = append(attrs, slog.String("id", id))
		}
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

// resourceOf returns the resource a request is about: its name field, else
// its parent field, else the name field of its first message field that
// has one set (e.g. UpdateFolderRequest.folder.name). id is the value of a
// top-level *_id field (e.g. CreateFolderRequest.folder_id), the part of a
// new resource's name a create request carries separately.
func resourceOf(m proto.Message) (resource, id string) {
	msg := m.ProtoReflect()
	if !msg.IsValid() {
		return "", ""
	}
	fields := msg.Descriptor().Fields()
	if s := stringField(msg, "name"); s != "" {
		resource = s
	} else if s := stringField(msg, "parent"); s != "" {
		resource = s
	} else {
		for i := 0; i < fields.Len() && resource == ""; i++ {
			fd := fields.Get(i)
			if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() || !msg.Has(fd) {
				continue
			}
			resource = stringField(msg.Get(fd).Message(), "name")
		}
	}
	for i := 0; i < fields.Len() && id == ""; i++ {
		fd := fields.Get(i)
		if strings.HasSuffix(string(fd.Name()), "_id") && fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() {
			id = clip(msg.Get(fd).String())
		}
	}
	return clip(resource), id
}

// stringField returns the value of msg's singular string field called name.
func stringField(msg protoreflect.Message, name protoreflect.Name) string {
	fd := msg.Descriptor().Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() || fd.IsMap() {
		return ""
	}
	return msg.Get(fd).String()
}

// clip shortens s for a log line, on a rune boundary.
func clip(s string) string { return truncateRunes(s, maxAuditValue) }

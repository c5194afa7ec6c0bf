package server

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// maxValueDepth is how deep objects and arrays may nest in a free-form
// JSON field (google.protobuf.Value, Struct or ListValue): `{"a":1}` and
// `[1]` are 1 deep, `{"a":[1]}` 2. Each level is three protobuf messages
// (Value, Struct, map entry), and protobuf decoders stop at 10,000: a
// value thousands of levels deep would be accepted once and then break
// every read that returns it.
const maxValueDepth = 32

// Free-form JSON message types.
const (
	valueType     protoreflect.FullName = "google.protobuf.Value"
	structType    protoreflect.FullName = "google.protobuf.Struct"
	listValueType protoreflect.FullName = "google.protobuf.ListValue"
)

// checkValueDepths refuses a request any of whose Value, Struct or
// ListValue fields (at any depth of ordinary messages) nests objects and
// arrays more than maxValueDepth deep: INVALID_ARGUMENT naming the field's
// path, such as usage_report.metadata. Every write that carries free-form
// JSON calls it first.
func checkValueDepths(m proto.Message) error {
	if m == nil {
		return nil
	}
	return checkMessageDepths("", m.ProtoReflect())
}

func checkMessageDepths(prefix string, msg protoreflect.Message) error {
	var err error
	msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		path := prefix + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = checkFieldDepth(fmt.Sprintf("%s[%d]", path, i), l.Get(i).Message())
			}
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				err = checkFieldDepth(fmt.Sprintf("%s[%q]", path, k.String()), mv.Message())
				return err == nil
			})
		default:
			err = checkFieldDepth(path, v.Message())
		}
		return err == nil
	})
	return err
}

// checkFieldDepth checks one message-typed field value found at path.
func checkFieldDepth(path string, msg protoreflect.Message) error {
	switch msg.Descriptor().FullName() {
	case valueType, structType, listValueType:
		if jsonMessageDepth(msg.Interface(), maxValueDepth) > maxValueDepth {
			return invalidArgument(path, fmt.Sprintf("nests objects and arrays more than %d deep", maxValueDepth))
		}
		return nil
	}
	return checkMessageDepths(path+".", msg)
}

// jsonMessageDepth returns how deep objects and arrays nest in a Value,
// Struct or ListValue, counting no further than limit+1 (so a deep value
// costs no more than a shallow one).
func jsonMessageDepth(m proto.Message, limit int) int {
	switch m := m.(type) {
	case *structpb.Value:
		switch k := m.GetKind().(type) {
		case *structpb.Value_StructValue:
			return jsonMessageDepth(k.StructValue, limit)
		case *structpb.Value_ListValue:
			return jsonMessageDepth(k.ListValue, limit)
		}
		return 0
	case *structpb.Struct:
		if limit < 0 {
			return 1
		}
		d := 0
		for _, v := range m.GetFields() {
			if d = max(d, jsonMessageDepth(v, limit-1)); d > limit {
				break
			}
		}
		return d + 1
	case *structpb.ListValue:
		if limit < 0 {
			return 1
		}
		d := 0
		for _, v := range m.GetValues() {
			if d = max(d, jsonMessageDepth(v, limit-1)); d > limit {
				break
			}
		}
		return d + 1
	}
	return 0
}

// jsonDepth is jsonMessageDepth for a value decoded by encoding/json.
func jsonDepth(v any, limit int) int {
	var d int
	switch v := v.(type) {
	case map[string]any:
		if limit < 0 {
			return 1
		}
		for _, e := range v {
			if d = max(d, jsonDepth(e, limit-1)); d > limit {
				break
			}
		}
	case []any:
		if limit < 0 {
			return 1
		}
		for _, e := range v {
			if d = max(d, jsonDepth(e, limit-1)); d > limit {
				break
			}
		}
	default:
		return 0
	}
	return d + 1
}

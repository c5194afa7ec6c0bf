package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// requestError is a request field that did not decode. Its message is
// what grpc-gateway puts in the INVALID_ARGUMENT status it makes of a
// decoding error ("%v"), and readableErrors turns that message back into
// a BadRequest naming the field (requestErrorRE).
type requestError struct {
	where string // "request body" or "query parameter"
	field string // proto path within the body or the request message
	desc  string
}

func (e *requestError) Error() string {
	return "invalid " + e.where + ": field " + strconv.Quote(e.field) + ": " + e.desc
}

// checkedJSON is the JSON marshaler with a decoder that, when a body does
// not decode, says which field is wrong and why (unknown field with a
// close match, enum value with the valid ones, wrong JSON type).
type checkedJSON struct {
	runtime.Marshaler
}

// NewDecoder implements runtime.Marshaler.
func (m checkedJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		var raw json.RawMessage
		if err := json.NewDecoder(r).Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return err // an empty body: grpc-gateway ignores it
			}
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return &requestError{where: "request body", desc: "not valid JSON: " + err.Error()}
		}
		err := m.Marshaler.Unmarshal(raw, v)
		if err == nil {
			return nil
		}
		if md := messageDescriptor(v); md != nil {
			if field, desc, ok := diagnoseJSON(raw, md); ok {
				return &requestError{where: "request body", field: field, desc: desc}
			}
		}
		return &requestError{where: "request body", desc: cleanProtoError(err)}
	})
}

// messageDescriptor returns the descriptor of the message v decodes into:
// v is a proto.Message, or a pointer to a (nil) message pointer when the
// body is one field of the request.
func messageDescriptor(v any) protoreflect.MessageDescriptor {
	if p, ok := v.(proto.Message); ok {
		return p.ProtoReflect().Descriptor()
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Pointer {
		return nil
	}
	if p, ok := reflect.New(rv.Elem().Type().Elem()).Interface().(proto.Message); ok {
		return p.ProtoReflect().Descriptor()
	}
	return nil
}

// cleanProtoError drops protobuf's "proto: " prefix (whose space varies on
// purpose) from a protojson error.
func cleanProtoError(err error) string {
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, "proto:"); ok {
		s = strings.TrimLeft(rest, " \u00a0")
	}
	return s
}

// diagnoseJSON finds the first field (in sorted key order) of a JSON body
// that protojson cannot decode into md, and says why.
func diagnoseJSON(raw []byte, md protoreflect.MessageDescriptor) (field, desc string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", "", false
	}
	return checkMessage(md, v, "")
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func checkMessage(md protoreflect.MessageDescriptor, v any, path string) (string, string, bool) {
	if v == nil {
		return "", "", false
	}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return checkWellKnown(md, v, path)
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		return path, "expected a JSON object (" + string(md.Name()) + "), got " + jsonValue(v), true
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := md.Fields()
	for _, k := range keys {
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByTextName(k)
		}
		if fd == nil {
			return joinPath(path, k), unknownFieldDesc(md, k), true
		}
		if f, d, bad := checkField(fd, obj[k], joinPath(path, string(fd.Name()))); bad {
			return f, d, true
		}
	}
	return "", "", false
}

// unknownFieldDesc says that name is no field of md, with the closest
// field name when one is close, else the list of fields.
func unknownFieldDesc(md protoreflect.MessageDescriptor, name string) string {
	fields := md.Fields()
	var names []string
	best, bestDist := "", math.MaxInt
	for i := range fields.Len() {
		jn := fields.Get(i).JSONName()
		names = append(names, jn)
		for _, cand := range []string{jn, string(fields.Get(i).Name())} {
			if d := editDistance(strings.ToLower(name), strings.ToLower(cand)); d < bestDist {
				best, bestDist = jn, d
			}
		}
	}
	desc := "unknown field of " + string(md.Name())
	if best != "" && bestDist <= max(2, len(name)/3) {
		return desc + "; did you mean " + strconv.Quote(best) + "?"
	}
	if len(names) > 0 && len(names) <= 25 {
		return desc + "; its fields: " + strings.Join(names, ", ")
	}
	return desc
}

// editDistance is the Levenshtein distance of a and b (field names: short).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func checkField(fd protoreflect.FieldDescriptor, v any, path string) (string, string, bool) {
	if v == nil {
		return "", "", false
	}
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			return path, "expected a JSON object (a map), got " + jsonValue(v), true
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if f, d, bad := checkSingular(fd.MapValue(), obj[k], path+"["+strconv.Quote(k)+"]"); bad {
				return f, d, true
			}
		}
		return "", "", false
	case fd.IsList():
		list, ok := v.([]any)
		if !ok {
			return path, "expected a JSON array, got " + jsonValue(v), true
		}
		for i, e := range list {
			if f, d, bad := checkSingular(fd, e, path+"["+strconv.Itoa(i)+"]"); bad {
				return f, d, true
			}
		}
		return "", "", false
	}
	return checkSingular(fd, v, path)
}

func checkSingular(fd protoreflect.FieldDescriptor, v any, path string) (string, string, bool) {
	if v == nil {
		return "", "", false
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return checkMessage(fd.Message(), v, path)
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return "", "", false
		}
		switch x := v.(type) {
		case string:
			if d := enumProblem(fd.Enum(), x); d != "" {
				return path, d, true
			}
			return "", "", false
		case json.Number:
			if _, err := strconv.ParseInt(x.String(), 10, 32); err == nil {
				return "", "", false
			}
		}
		return path, enumProblem(fd.Enum(), jsonValue(v)), true
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			return path, "expected true or false, got " + jsonValue(v), true
		}
	case protoreflect.StringKind:
		if _, ok := v.(string); !ok {
			return path, "expected a string, got " + jsonValue(v), true
		}
	case protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			return path, "expected base64-encoded bytes in a string, got " + jsonValue(v), true
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch x := v.(type) {
		case json.Number:
			return "", "", false
		case string:
			if _, err := strconv.ParseFloat(x, 64); err == nil || x == "NaN" || x == "Infinity" || x == "-Infinity" {
				return "", "", false
			}
		}
		return path, "expected a number, got " + jsonValue(v), true
	default: // integers
		if d := integerProblem(fd.Kind(), v); d != "" {
			return path, d, true
		}
	}
	return "", "", false
}

// integerProblem says why v (a JSON number or string) is no integer of
// kind k, or "".
func integerProblem(k protoreflect.Kind, v any) string {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return "expected an integer, got " + jsonValue(v)
	}
	bits, unsigned := 64, false
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		bits = 32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		bits, unsigned = 32, true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		unsigned = true
	}
	var err error
	if unsigned {
		_, err = strconv.ParseUint(s, 10, bits)
	} else {
		_, err = strconv.ParseInt(s, 10, bits)
	}
	if err == nil {
		return ""
	}
	if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == math.Trunc(f) {
		lo, hi := -math.Pow(2, float64(bits-1)), math.Pow(2, float64(bits-1))
		if unsigned {
			lo, hi = 0, math.Pow(2, float64(bits))
		}
		if f >= lo && f < hi {
			return ""
		}
		return "out of range for a " + k.String() + ", got " + jsonValue(v)
	}
	return "expected an integer, got " + jsonValue(v)
}

// enumProblem says why name is no value of ed, listing the valid ones
// (and the one meant, when name is a value without its prefix), or "".
func enumProblem(ed protoreflect.EnumDescriptor, name string) string {
	if ed.Values().ByName(protoreflect.Name(name)) != nil {
		return ""
	}
	if n, err := strconv.ParseInt(name, 10, 32); err == nil && ed.Values().ByNumber(protoreflect.EnumNumber(n)) != nil {
		return ""
	}
	var valid []string
	meant := ""
	for i := range ed.Values().Len() {
		vn := string(ed.Values().Get(i).Name())
		if ed.Values().Get(i).Number() == 0 && strings.HasSuffix(vn, "_UNSPECIFIED") {
			continue
		}
		valid = append(valid, vn)
		if strings.EqualFold(vn, name) || strings.HasSuffix(strings.ToUpper(vn), "_"+strings.ToUpper(name)) {
			meant = vn
		}
	}
	desc := strconv.Quote(name) + " is not a " + string(ed.Name()) + "; valid values: " + strings.Join(valid, ", ")
	if meant != "" {
		desc += " (did you mean " + meant + "?)"
	}
	return desc
}

// checkWellKnown checks a google.protobuf message in its JSON form by
// decoding it alone.
func checkWellKnown(md protoreflect.MessageDescriptor, v any, path string) (string, string, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", "", false
	}
	if err := protojson.Unmarshal(b, dynamicpb.NewMessage(md)); err == nil {
		return "", "", false
	}
	switch md.FullName() {
	case "google.protobuf.Duration":
		return path, `expected a duration such as "60s" or "1.5s", got ` + jsonValue(v), true
	case "google.protobuf.Timestamp":
		return path, `expected an RFC 3339 time such as "2024-01-02T15:04:05Z", got ` + jsonValue(v), true
	case "google.protobuf.FieldMask":
		return path, `expected a comma-separated list of field paths such as "title,tags", got ` + jsonValue(v), true
	}
	return path, "not a valid " + string(md.FullName()) + ": " + cleanProtoError(err), true
}

// jsonValue is v in JSON, shortened.
func jsonValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 40 {
		return string(b[:37]) + "..."
	}
	return string(b)
}

// checkedQueryParser is grpc-gateway's query parser, which on an error
// says which parameter is wrong and why (a requestError).
type checkedQueryParser struct {
	runtime.DefaultQueryParser
}

// Parse implements runtime.QueryParameterParser.
func (p *checkedQueryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	err := p.DefaultQueryParser.Parse(msg, values, filter)
	if err == nil {
		return nil
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	md := msg.ProtoReflect().Descriptor()
	for _, k := range keys {
		one := url.Values{k: values[k]}
		kerr := p.DefaultQueryParser.Parse(dynamicpb.NewMessage(md), one, filter)
		if kerr == nil {
			continue
		}
		fd, path := queryField(md, k)
		desc := strings.TrimSpace(kerr.Error())
		if fd != nil && !fd.IsMap() && len(values[k]) > 0 {
			switch {
			case !fd.IsList() && len(values[k]) > 1:
				desc = "given more than once"
			case fd.Kind() == protoreflect.EnumKind:
				for _, val := range values[k] {
					if d := enumProblem(fd.Enum(), val); d != "" {
						desc = d
						break
					}
				}
			case fd.Kind() == protoreflect.BoolKind:
				desc = "expected true or false, got " + strconv.Quote(values[k][0])
			case fd.Kind() == protoreflect.MessageKind:
			default:
				for _, val := range values[k] {
					if d := integerProblem(fd.Kind(), val); d != "" && fd.Kind() != protoreflect.FloatKind && fd.Kind() != protoreflect.DoubleKind && fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind {
						desc = d
						break
					}
				}
			}
		}
		return &requestError{where: "query parameter", field: path, desc: desc}
	}
	return err
}

// queryField resolves a query parameter key (dotted, proto or JSON names)
// to its field and proto path.
func queryField(md protoreflect.MessageDescriptor, key string) (protoreflect.FieldDescriptor, string) {
	var fd protoreflect.FieldDescriptor
	var names []string
	for _, part := range strings.Split(key, ".") {
		if md == nil {
			return nil, key
		}
		fd = md.Fields().ByTextName(part)
		if fd == nil {
			fd = md.Fields().ByJSONName(part)
		}
		if fd == nil {
			return nil, key
		}
		names = append(names, string(fd.Name()))
		md = fd.Message()
	}
	return fd, strings.Join(names, ".")
}

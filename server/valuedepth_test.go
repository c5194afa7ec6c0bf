package server

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// nestedJSON is JSON whose objects and arrays nest depth deep, alternating
// {"k": ...} and [...] around the scalar 1.
func nestedJSON(depth int) string {
	var open, closing strings.Builder
	for i := range depth {
		if i%2 == 0 {
			open.WriteString(`{"k":`)
			closing.WriteString("}")
		} else {
			open.WriteString("[")
			closing.WriteString("]")
		}
	}
	return open.String() + "1" + reverse(closing.String())
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// nestedValue is nestedJSON as a Value.
func nestedValue(t testing.TB, depth int) *structpb.Value {
	t.Helper()
	v := &structpb.Value{}
	if err := v.UnmarshalJSON([]byte(nestedJSON(depth))); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheckValueDepths(t *testing.T) {
	report := func(md *structpb.Value) *adminv1.UsageReport { return &adminv1.UsageReport{Metadata: md} }
	for _, tc := range []struct {
		name  string
		req   proto.Message
		field string // "" when accepted
	}{
		{"no metadata", &adminv1.CreateUsageReportRequest{UsageReport: report(nil)}, ""},
		{"scalar", &adminv1.CreateUsageReportRequest{UsageReport: report(structpb.NewStringValue("x"))}, ""},
		{"at the limit", &adminv1.CreateUsageReportRequest{UsageReport: report(nestedValue(t, maxValueDepth))}, ""},
		{"one deeper", &adminv1.CreateUsageReportRequest{UsageReport: report(nestedValue(t, maxValueDepth+1))}, "usage_report.metadata"},
		{"far deeper", &adminv1.UpdateUsageReportRequest{UsageReport: report(nestedValue(t, 3400))}, "usage_report.metadata"},
		{"wide and shallow", &adminv1.CreateUsageReportRequest{UsageReport: report(structpb.NewListValue(&structpb.ListValue{
			Values: []*structpb.Value{nestedValue(t, 3), nestedValue(t, maxValueDepth-1), structpb.NewNullValue()}}))}, ""},
		{"deep in the last element", &adminv1.CreateUsageReportRequest{UsageReport: report(structpb.NewListValue(&structpb.ListValue{
			Values: []*structpb.Value{nestedValue(t, 3), nestedValue(t, maxValueDepth)}}))}, "usage_report.metadata"},
		{"no free-form field", &adminv1.UpdateFolderRequest{Folder: &adminv1.Folder{Name: "folders/x"}}, ""},
		{"nil", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkValueDepths(tc.req)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), tc.field+":") {
				t.Fatalf("got %v, want INVALID_ARGUMENT naming %s", err, tc.field)
			}
		})
	}
}

func TestMetadataValueTooDeep(t *testing.T) {
	deep := nestedJSON(maxValueDepth + 1)
	quoted, _ := json.Marshal(deep)
	for _, tc := range []struct {
		name, raw string
		want      *structpb.Value
	}{
		{"object at the limit", nestedJSON(maxValueDepth), nestedValue(t, maxValueDepth)},
		{"object too deep", deep, structpb.NewStringValue(deep)},
		{"string holding JSON too deep", string(quoted), structpb.NewStringValue(deep)},
		{"3400 levels", nestedJSON(3400), structpb.NewStringValue(nestedJSON(3400))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := metadataValue(json.RawMessage(tc.raw))
			// proto.Equal, not cmp with protocmp, which takes seconds on 32
			// levels of nesting (its time grows exponentially with depth).
			if !proto.Equal(got, tc.want) {
				t.Fatalf("metadataValue = %.200v, want %.200v", got, tc.want)
			}
			b, err := proto.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(b, &structpb.Value{}); err != nil {
				t.Fatalf("answer does not decode: %v", err)
			}
		})
	}
}

// tokenDepth is an independent measure of JSON nesting: the largest number
// of objects and arrays open at once, from the token stream.
func tokenDepth(data []byte) (int, bool) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return deepest, true
		}
		if err != nil {
			return 0, false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// FuzzValueDepth checks the depth validator against the token-stream
// nesting of arbitrary JSON: a Value is refused exactly when it nests
// deeper than maxValueDepth, the refusal names the field, and whatever
// upstream holds, metadataValue answers something no deeper than the
// limit that survives a protobuf round trip.
func FuzzValueDepth(f *testing.F) {
	for _, s := range []string{
		`1`, `"x"`, `null`, `{}`, `[]`, `{"a":[1,{"b":null}]}`, `"{\"a\":1}"`, `"[[[1]]]"`,
		nestedJSON(maxValueDepth), nestedJSON(maxValueDepth + 1), nestedJSON(200),
		strings.Repeat("[", 40) + strings.Repeat("]", 40), `{"a":` + nestedJSON(maxValueDepth) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Whatever upstream sends: no panic, a bounded, encodable answer.
		if got := metadataValue(data); got != nil {
			if d := jsonMessageDepth(got, maxValueDepth); d > maxValueDepth {
				t.Fatalf("metadataValue(%q) is %d deep", data, d)
			}
			if _, err := proto.Marshal(got); err != nil {
				t.Fatalf("metadataValue(%q) does not encode: %v", data, err)
			}
		}
		want, ok := tokenDepth(data)
		if !ok {
			return
		}
		var decoded any
		if json.Unmarshal(data, &decoded) == nil {
			if d := jsonDepth(decoded, maxValueDepth); min(d, maxValueDepth+1) != min(want, maxValueDepth+1) {
				t.Fatalf("jsonDepth(%q) = %d, token depth %d", data, d, want)
			}
		}
		v := &structpb.Value{}
		if err := v.UnmarshalJSON(data); err != nil {
			return // not a Value (e.g. a number protojson refuses)
		}
		if d := jsonMessageDepth(v, maxValueDepth); min(d, maxValueDepth+1) != min(want, maxValueDepth+1) {
			t.Fatalf("jsonMessageDepth(%q) = %d, token depth %d", data, d, want)
		}
		err := checkValueDepths(&adminv1.CreateUsageReportRequest{UsageReport: &adminv1.UsageReport{Metadata: v}})
		switch {
		case want > maxValueDepth && (status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "usage_report.metadata")):
			t.Fatalf("%q (%d deep): %v, want INVALID_ARGUMENT naming usage_report.metadata", data, want, err)
		case want <= maxValueDepth && err != nil:
			t.Fatalf("%q (%d deep) refused: %v", data, want, err)
		}
	})
}

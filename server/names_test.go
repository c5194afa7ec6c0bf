package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseServiceName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want serviceRef
		ok   bool
	}{
		{"services/SampleWorldCities.MapServer", serviceRef{"", "SampleWorldCities", "MapServer"}, true},
		{"folders/System/services/CachingTools.GPServer", serviceRef{"System", "CachingTools", "GPServer"}, true},
		{"folders/A_1/services/b_2.FeatureServer", serviceRef{"A_1", "b_2", "FeatureServer"}, true},
		{"services/../security", serviceRef{}, false},
		{"services/a/b.MapServer", serviceRef{}, false},
		{"services/%2e%2e.MapServer", serviceRef{}, false},
		{"services/", serviceRef{}, false},
		{"services/Name", serviceRef{}, false},
		{"services/Name.mapserver", serviceRef{}, false},
		{"services/Name.MapServer.x", serviceRef{}, false},
		{"services/.MapServer", serviceRef{}, false},
		{"folders//services/A.MapServer", serviceRef{}, false},
		{"folders/-/services/A.MapServer", serviceRef{}, false},
		{"folders/A/services/", serviceRef{}, false},
		{"folders/A/x/services/B.MapServer", serviceRef{}, false},
		{"Services/A.MapServer", serviceRef{}, false},
		{"/services/A.MapServer", serviceRef{}, false},
		{"services/" + strings.Repeat("a", 1024) + ".MapServer", serviceRef{}, false},
		{"", serviceRef{}, false},
	} {
		got, err := parseServiceName("name", tc.in)
		if tc.ok != (err == nil) || got != tc.want && tc.ok {
			t.Errorf("parseServiceName(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil {
			if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "name: ") {
				t.Errorf("parseServiceName(%q) error %v: want INVALID_ARGUMENT naming the field", tc.in, err)
			}
		}
		if tc.ok && got.resourceName() != tc.in {
			t.Errorf("round trip of %q gave %q", tc.in, got.resourceName())
		}
	}
}

func TestParseParent(t *testing.T) {
	for _, tc := range []struct {
		in       string
		allowAll bool
		want     string
		ok       bool
	}{
		{"", true, "", true},
		{"folders/-", true, parentAll, true},
		{"folders/-", false, "", false},
		{"folders/Maps", false, "Maps", true},
		{"folders/Maps/", false, "", false},
		{"services", true, "", false},
	} {
		got, err := parseParent("parent", tc.in, tc.allowAll)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("parseParent(%q, %v) = %q, %v", tc.in, tc.allowAll, got, err)
		}
	}
}

// FuzzParseServiceName checks that whatever is accepted is a safe name:
// ArcGIS characters only, a known type, and a lossless round trip.
func FuzzParseServiceName(f *testing.F) {
	for _, s := range []string{"services/SampleWorldCities.MapServer", "folders/System/services/CachingTools.GPServer",
		"services/../security", "folders/a/b/services/c.MapServer", "services/%2e%2e", "folders/-/services/x.GPServer", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ref, err := parseServiceName("name", in)
		if err != nil {
			if st, ok := status.FromError(err); !ok || st.Code() != codes.InvalidArgument {
				t.Fatalf("error %v is not INVALID_ARGUMENT", err)
			}
			if !utf8.ValidString(st(err)) {
				t.Fatalf("error message is not valid UTF-8")
			}
			return
		}
		for _, part := range []string{ref.Folder, ref.Name} {
			if strings.ContainsAny(part, "/.%\\ ") {
				t.Fatalf("accepted unsafe name part %q from %q", part, in)
			}
		}
		if !knownTypes[ref.Type] {
			t.Fatalf("accepted unknown type %q", ref.Type)
		}
		if ref.resourceName() != in {
			t.Fatalf("round trip %q → %q", in, ref.resourceName())
		}
	})
}

func st(err error) string { s, _ := status.FromError(err); return s.Message() }

func TestPaginate(t *testing.T) {
	items := []string{"e", "a", "d", "c", "b"}
	id := func(s string) string { return s }
	var got []string
	token := ""
	for i := 0; i < 10; i++ {
		page, next, err := paginate(append([]string(nil), items...), id, "q", token, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		token = next
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("pages gave %v", got)
	}
	// An item deleted between pages does not shift the next page.
	page, next, _ := paginate([]string{"a", "b", "c", "d"}, id, "q", "", 2)
	page2, _, _ := paginate([]string{"a", "c", "d"}, id, "q", next, 2) // "b" deleted
	if strings.Join(page, "")+strings.Join(page2, "") != "abcd" {
		t.Fatalf("after delete: %v %v", page, page2)
	}
	for _, tc := range []struct {
		token string
		size  int32
	}{{"%%%", 1}, {encodePageToken("other", "a"), 1}, {"", -1}} {
		if _, _, err := paginate(items, id, "q", tc.token, tc.size); status.Code(err) != codes.InvalidArgument {
			t.Errorf("paginate(token %q, size %d) = %v, want INVALID_ARGUMENT", tc.token, tc.size, err)
		}
	}
	if n, _ := pageSize(5000); n != maxPageSize {
		t.Errorf("pageSize(5000) = %d", n)
	}
}

func FuzzDecodePageToken(f *testing.F) {
	f.Add(encodePageToken("q", "folders/A"), "q")
	f.Add("", "q")
	f.Add("!!", "q")
	f.Fuzz(func(t *testing.T, token, query string) {
		last, err := decodePageToken(token, query)
		if err == nil && token != "" && encodePageToken(query, last) != token {
			// Accepted tokens must be ones we could have issued.
			if _, err2 := decodePageToken(encodePageToken(query, last), query); err2 != nil {
				t.Fatalf("re-encoded token rejected: %v", err2)
			}
		}
	})
}

func TestMaskPaths(t *testing.T) {
	got := maskPaths([]string{"maxWaitTime", "description", "properties.maxImageWidth", "web_encrypted", "a,minInstancesPerNode", ""}, "properties")
	want := []string{"max_wait_time", "description", "properties.maxImageWidth", "web_encrypted", "a", "min_instances_per_node"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("maskPaths = %v, want %v", got, want)
	}
}

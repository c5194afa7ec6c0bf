package upstream

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// itemInfoCases are item info bodies the fast decoder takes or hands back;
// each must decode to what the encoding/json path gives.
var itemInfoCases = []struct {
	name string
	body string
	fast bool // whether decodeItemInfoFast takes it
}{
	{"empty", `{}`, true},
	{"docs", `{"title":"T","summary":"S","snippet":"s","description":"<p>d</p>","tags":["a","b,c"],"typeKeywords":["Data","Service"],"culture":"en-US","guid":"G","accessInformation":"esri","licenseInfo":"l","documentation":"x","url":"http://h/","extent":{"xmin":-1.5,"ymin":2,"xmax":3e1,"ymax":4,"spatialReference":{"wkid":4326}},"spatialReference":"GCS_WGS_1984","thumbnail":"thumbnail/t.png","name":"n","minScale":0}`, true},
	{"schema spellings", `{"typekeywords":"a, b ,,c","accessinformation":"x","licenseinfo":"y","spatialreference":"z","Culture":"en","Summary":"S"}`, true},
	{"odd case", `{"TITLE":"t","TaGs":"x"}`, true},
	{"spaces", " { \"title\" : \"t\" ,\n\"tags\" : [ \"a\" , \"b\" ] , \"extent\" : [ [ 1 , 2 ] , [ 3 , 4 ] ] , \"other\" : { \"a\" : [1, {\"b\":null}] } } ", true},
	{"scalars as text", `{"title":12,"summary":true,"snippet":null,"description":-1.5e3,"culture":false}`, true},
	{"containers as text", `{"title":{"a": 1},"summary":[ "x" , 2 ]}`, true},
	{"escaped values", `{"title":"a\"b\u00e9","tags":["x\u002cy","z"],"typeKeywords":"p\u002cq"}`, true},
	{"invalid utf8", "{\"title\":\"a\xffb\",\"tags\":[\"c\xfe\"]}", true},
	{"unicode", `{"title":"Kärten","tags":"日本, 東京"}`, true},
	{"tag forms", `{"tags":"a,b , c","typeKeywords":["a,b","c"]}`, true},
	{"tags of other kinds", `{"tags":[1,true,null,{"x":1},["y"]],"typeKeywords":12}`, true},
	{"empty and null lists", `{"tags":[],"typeKeywords":null}`, true},
	{"extent corners", `{"extent":[[-1,-2],[3,4.5]]}`, true},
	{"extent strings", `{"extent":{"xmin":"1","ymin":"2","xmax":" 3 ","ymax":"4e0"}}`, true},
	{"extent corner strings", `{"extent":[["1","2"],[3,"4e0"]]}`, true},
	{"extent case", `{"extent":{"XMin":1,"YMIN":2,"xMax":3,"ymax":4}}`, true},
	{"extent twice spelled", `{"extent":{"xmin":"1","XMIN":"2","ymin":3,"xmax":4,"ymax":5,"extra":[]}}`, true},
	{"extent lacking", `{"extent":{"xmin":1,"ymin":2,"xmax":3}}`, true},
	{"extent null", `{"extent":null}`, true},
	{"extent out of range", `{"extent":{"xmin":1e400,"ymin":2,"xmax":3,"ymax":4}}`, true},
	{"extent tiny", `{"extent":{"xmin":1e-400,"ymin":-0,"xmax":3,"ymax":4}}`, true},
	{"extent bad corners", `{"extent":[[1,2],[3]]}`, true},
	{"extent three corners", `{"extent":[[1,2],[3,4],[5,6]]}`, true},
	{"extent other kind", `{"extent":"1,2,3,4"}`, true},
	{"extent odd strings", `{"extent":{"xmin":"0x1p3","ymin":"Inf","xmax":"1_0","ymax":""}}`, true},
	{"extent NaN string", `{"extent":[["NaN","1"],["2","3"]]}`, true},
	{"extent hex string", `{"extent":[["0x1p3"," -1 "],["2\u0030","3"]]}`, true},
	{"extent empty string", `{"extent":{"xmin":"","ymin":2,"xmax":3,"ymax":4}}`, true},
	{"non-ASCII key", `{"tıtle":"dotless","ſummary":"long s","title":"t"}`, true},
	{"kelvin key", `{"type\u212aeywords":["kelvin"],"title":"plain"}`, false},
	{"escaped key", `{"typeKeyword\u0073":["escaped"]}`, false},
	{"two spellings", `{"Summary":"a","summary":"b","SUMMARY":"c"}`, false},
	{"repeated key", `{"title":"a","title":"b"}`, false},
	{"top-level null", `null`, false},
	{"top-level array", `[]`, false},
	{"top-level string", `"x"`, false},
}

func TestDecodeItemInfoFastMatchesJSON(t *testing.T) {
	for _, tc := range itemInfoCases {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.body)
			fast, ok := decodeItemInfoFast(b)
			if ok != tc.fast {
				t.Fatalf("decodeItemInfoFast took it: %v, want %v", ok, tc.fast)
			}
			var want ItemInfo
			wantErr := want.decodeJSON(b)
			var got ItemInfo
			err := got.UnmarshalJSON(b)
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("error %v, want %v", err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%#v\nwant\n%#v", got, want)
			}
			if ok && !reflect.DeepEqual(fast, want) {
				t.Fatalf("fast decoded\n%#v\nwant\n%#v", fast, want)
			}
		})
	}
}

// TestDecodeItemInfoFastKeepsSource checks that the item info decoded in
// one pass keeps its own copy of the body for Raw.
func TestDecodeItemInfoFastKeepsSource(t *testing.T) {
	b := []byte(`{"title":"T","name":"n"}`)
	var info ItemInfo
	if err := info.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	copy(b, bytes.Repeat([]byte(" "), len(b)))
	raw := info.Raw()
	if string(raw["name"]) != `"n"` || info.Title != "T" {
		t.Fatalf("Raw %s, title %q after the body was overwritten", raw, info.Title)
	}
}

// TestDecodeItemInfoAllocations bounds the allocations of decoding the
// usual item info, with its extent in each usual form: one copy for the
// strings, one for Raw, the lists and the extent (the digest's canonical
// form is written in pooled memory).
func TestDecodeItemInfoAllocations(t *testing.T) {
	const head = `{"title":"Test Map Service","summary":"Test service","snippet":"Test service","description":"A test service","tags":["Map Service"],"typeKeywords":["Data","Service","Map Service","ArcGIS Server"],"culture":"en-US","guid":"FD09F5FF-4031-49D4-88D3-B310728C8FF7","spatialReference":"WGS_1984_Web_Mercator_Auxiliary_Sphere","thumbnail":"thumbnail/thumbnail.png","extent":`
	for _, extent := range []string{
		`{"xmin":-178.217598362366,"ymin":18.9247817993162,"xmax":-66.9692710360024,"ymax":71.4071353542713}`,
		`[[-178.217598362366, 18.9247817993162], [-66.9692710360024, 71.4071353542713]]`,
		`{"xmin": "-122.515048", "ymin": "37.632528", "xmax": "-122.293731", "ymax": "37.863433"}`,
	} {
		b := []byte(head + extent + "}")
		if !json.Valid(b) {
			t.Fatal("invalid test body")
		}
		got := testing.AllocsPerRun(20, func() {
			var info ItemInfo
			if err := info.UnmarshalJSON(b); err != nil || len(info.TypeKeywords) != 4 || info.Extent == nil {
				t.Fatal(err, info)
			}
		})
		t.Logf("extent %s: %v allocations", extent, got)
		if got > 8 && !raceBuild { // the digest's scratch comes from a pool
			t.Errorf("decoding item info with extent %s: %v allocations, want at most 8", extent, got)
		}
	}
}

// FuzzItemInfoFast checks that the one-pass decoder and the encoding/json
// path agree on every input it takes, and that it takes no input that is
// not JSON (it is the only check of the answers it takes).
func FuzzItemInfoFast(f *testing.F) {
	for _, tc := range itemInfoCases {
		f.Add([]byte(tc.body))
	}
	for _, s := range notJSONBodies {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeItemInfoFast(b)
		if !ok {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("%q is not JSON, and the one-pass decoder took it", b)
		}
		var want ItemInfo
		if err := want.decodeJSON(b); err != nil || !reflect.DeepEqual(fast, want) {
			t.Fatalf("%q: fast decoded\n%#v\nencoding/json path\n%#v, %v", b, fast, want, err)
		}
	})
}

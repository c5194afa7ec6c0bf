package upstream

import (
	"encoding/json"
	"reflect"
	"testing"
)

// slowListing decodes b the reflective way, as FolderListing did before
// decodeListingFast.
func slowListing(b []byte) (FolderListing, error) {
	var w folderListingWire
	if err := json.Unmarshal(b, &w); err != nil {
		return FolderListing{}, err
	}
	return w.listing(), nil
}

// listingCases are listings the fast decoder takes or hands back; each
// must decode to what json.Unmarshal of the wire shape gives.
var listingCases = []struct {
	name string
	body string
	fast bool // whether decodeListingFast takes it
}{
	{"empty", `{}`, true},
	{"folder", `{"folderName":"Bulk","description":"d","webEncrypted":false,"isDefault":true,"services":[{"folderName":"Bulk","serviceName":"A","type":"MapServer","description":"x","id":"i1"},{"folderName":"/","serviceName":"B","serviceType":"GPServer"}]}`, true},
	{"root", `{"folderName":"/","description":"Root folder","folders":["Maps","System"],"foldersDetail":[{"folderName":"Maps","description":"","webEncrypted":"true","isDefault":0,"id":"f1"}],"services":[]}`, true},
	{"spaces", " { \"folderName\" : \"Bulk\" ,\n\"services\" : [ { \"serviceName\" : \"A\" , \"type\" : \"MapServer\" } ] , \"extra\" : { \"a\" : [1, 2, {\"b\":null}] } , \"n\" : -1.5e3 } ", true},
	{"scalars as text", `{"folderName":12,"description":true,"id":null,"services":[{"serviceName":7,"type":null,"serviceType":"X"}]}`, true},
	{"empty type", `{"services":[{"serviceName":"A","type":"","serviceType":"GPServer"}]}`, true},
	{"unicode", `{"folderName":"Kärten","services":[{"serviceName":"日本","type":"MapServer"}]}`, true},
	{"escapes", `{"folderName":"a\"b\u00e9","services":[{"serviceName":"c\\d","type":"MapServer"}]}`, true},
	{"invalid utf8", "{\"folderName\":\"a\xffb\"}", true},
	{"null arrays", `{"folders":null,"foldersDetail":null,"services":null}`, true},
	{"empty arrays", `{"folders":[],"foldersDetail":[],"services":[]}`, true},
	{"duplicate keys", `{"folderName":"a","folderName":"b","services":[{"serviceName":"A"}]}`, true},
	{"duplicate list", `{"folderName":"a","services":[{"serviceName":"A"}],"services":[{"serviceName":"B"},{"serviceName":"C"}]}`, false},
	{"duplicate list, fewer keys", `{"services":[{"serviceName":"0","type":"MapServer"}],"services":[{}]}`, false},
	{"duplicate folders", `{"folders":["a"],"folders":[null],"foldersDetail":[{"id":"x"}],"foldersDetail":[{}]}`, false},
	{"other case key", `{"FolderName":"Bulk"}`, false},
	{"other case nested key", `{"services":[{"ServiceName":"A"}]}`, false},
	{"escaped key", `{"folder\u004eame":"Bulk"}`, false},
	{"null element", `{"services":[null,{"serviceName":"A"}]}`, false},
	{"object as text", `{"folderName":{}}`, false},
	{"bad boolean", `{"webEncrypted":"maybe"}`, false},
	{"services object", `{"services":{}}`, false},
	{"top-level null", `null`, false},
	{"top-level array", `[]`, false},
}

func TestDecodeListingFastMatchesJSON(t *testing.T) {
	for _, tc := range listingCases {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.body)
			fast, ok := decodeListingFast(b)
			if ok != tc.fast {
				t.Fatalf("decodeListingFast took it: %v, want %v", ok, tc.fast)
			}
			want, wantErr := slowListing(b)
			var got FolderListing
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

// FuzzFolderListingJSON checks that the one-pass decoder and json.Unmarshal
// agree on every input the decoder takes, and that it takes no input that
// is not JSON (it is the only check of the answers it takes).
func FuzzFolderListingJSON(f *testing.F) {
	for _, tc := range listingCases {
		f.Add([]byte(tc.body))
	}
	for _, s := range notJSONBodies {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := slowListing(b)
		fast, ok := decodeListingFast(b)
		if ok && !json.Valid(b) {
			t.Fatalf("%q is not JSON, and the one-pass decoder took it", b)
		}
		if ok && (wantErr != nil || !reflect.DeepEqual(fast, want)) {
			t.Fatalf("%q: fast decoded %#v, json.Unmarshal %#v, %v", b, fast, want, wantErr)
		}
	})
}

// TestDecodeListingAllocations checks that a 200-service listing decodes
// with a few allocations (the body's copy, the slices), not several per
// service as json.Unmarshal did (1229).
func TestDecodeListingAllocations(t *testing.T) {
	var b []byte
	b = append(b, `{"folderName":"Bulk","description":"d","services":[`...)
	for i := range 200 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"folderName":"Bulk","serviceName":"S`...)
		b = append(b, byte('0'+i%10))
		b = append(b, `","type":"MapServer","description":"A map service.","id":"id"}`...)
	}
	b = append(b, `]}`...)
	got := testing.AllocsPerRun(20, func() {
		var l FolderListing
		if err := l.UnmarshalJSON(b); err != nil || len(l.Services) != 200 {
			t.Fatal(err, len(l.Services))
		}
	})
	if got > 20 {
		t.Errorf("decoding 200 services: %v allocations, want at most 20", got)
	}
}

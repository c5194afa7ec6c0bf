package upstream_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// oldCanonical is the canonical form the slow way: decode into interface
// values (numbers kept as text) and encode again, which sorts the keys of
// every object.
func oldCanonical(b []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	out, err := json.Marshal(v)
	return out, err == nil
}

// TestCanonicalJSONMatchesDecodeEncode checks CanonicalJSON against
// decoding and encoding again, on compact JSON as json.Marshal writes it
// and on the same JSON with white space around every token.
func TestCanonicalJSONMatchesDecodeEncode(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `"s"`, `12.50`, `null`, `true`, `[{}]`, `{"a":[]}`,
		`{"b":1,"a":2}`,
		`{"z":{"y":[{"d":1,"c":"x,y}"},[],{}],"x":null},"a":"q\"uo\\te","m":[3,2,1]}`,
		`{"serviceName":"World","type":"MapServer","properties":{"maxRecordCount":"1000","a":"b"},"extensions":[{"typeName":"KmlServer","enabled":"true","properties":{"z":"1","compressionLevel":"3"}}]}`,
		`{"k":"\u003chtml\u003e","emoji":"é","n":-1.5e+10}`,
	} {
		var buf bytes.Buffer // compact, as json.Marshal writes etagOf's input
		if err := json.Compact(&buf, []byte(in)); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		b := buf.Bytes()
		want, ok := oldCanonical(b)
		got, gotOK := upstream.CanonicalJSON(nil, b)
		if ok != gotOK || !bytes.Equal(got, want) {
			t.Errorf("CanonicalJSON(%s) = %s, %v; want %s, %v", b, got, gotOK, want, ok)
		}
		var spaced bytes.Buffer
		if err := json.Indent(&spaced, b, " \r\n", "\t "); err != nil {
			t.Fatal(err)
		}
		in := append(append([]byte(" \n"), spaced.Bytes()...), "\t\r\n "...)
		got, gotOK = upstream.CanonicalJSON(nil, in)
		if ok != gotOK || !bytes.Equal(got, want) {
			t.Errorf("CanonicalJSON(%q) = %s, %v; want %s, %v", in, got, gotOK, want, ok)
		}
	}
}

// TestCanonicalJSONForms: one state sent in another key order or with
// other white space has one canonical form; another value, another form;
// malformed input is refused.
func TestCanonicalJSONForms(t *testing.T) {
	canon := func(s string) string {
		t.Helper()
		out, ok := upstream.CanonicalJSON(nil, []byte(s))
		if !ok {
			t.Fatalf("CanonicalJSON(%q) refused", s)
		}
		return string(out)
	}
	for _, tc := range []struct{ name, a, b string }{
		{"key order, nested", `{"b":{"y":1,"x":[{"q":2,"p":3}]},"a":"}"}`, `{"a":"}","b":{"x":[{"p":3,"q":2}],"y":1}}`},
		{"white space", "{\"a\":[1,2,{\"c\":true,\"b\":null}],\"d\":\"x y\"}", "\n{ \"d\" : \"x y\" ,\r\n\t\"a\": [ 1 , 2 , { \"b\" : null , \"c\" : true } ] }\n"},
		{"a key twice", `{"k":2,"a":0,"k":1}`, `{"k":1,"k":2,"a":0}`},
	} {
		if x, y := canon(tc.a), canon(tc.b); x != y {
			t.Errorf("%s: %s and %s", tc.name, x, y)
		}
	}
	for _, tc := range []struct{ name, a, b string }{
		{"a value", `{"a":{"b":"1"}}`, `{"a":{"b":"2"}}`},
		{"a number's type", `{"a":1}`, `{"a":"1"}`},
		{"array order", `{"a":[1,2]}`, `{"a":[2,1]}`},
		{"space inside a string", `{"a":"x y"}`, `{"a":"xy"}`},
	} {
		if x, y := canon(tc.a), canon(tc.b); x == y {
			t.Errorf("%s: %s and %s have one form", tc.name, tc.a, tc.b)
		}
	}
	for _, in := range []string{``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `[1 2]`, `[1,]`, `{"a":1}}`, `{} {}`, `"x`, `{"a":[}`} {
		if out, ok := upstream.CanonicalJSON(nil, []byte(in)); ok {
			t.Errorf("CanonicalJSON(%q) = %s, want refused", in, out)
		}
	}
}

// FuzzCanonicalJSON compares CanonicalJSON with decoding and encoding
// again on every valid input (in json.Marshal's escaping), and checks that
// white space never changes the canonical form.
func FuzzCanonicalJSON(f *testing.F) {
	f.Add([]byte(`{"b":{"d":[1,{"f":2,"e":3}],"c":"}"},"a":[]}`))
	f.Add([]byte(" { \"b\" :\n[ 1 ,\t{ } ] , \"a\" : \"x\" } "))
	f.Fuzz(func(t *testing.T, in []byte) {
		var buf bytes.Buffer
		if json.Compact(&buf, in) != nil {
			return
		}
		// White space outside strings is not in the canonical form.
		fromIn, okIn := upstream.CanonicalJSON(nil, in)
		fromCompact, okCompact := upstream.CanonicalJSON(nil, buf.Bytes())
		if !okIn || !okCompact || !bytes.Equal(fromIn, fromCompact) {
			t.Fatalf("CanonicalJSON(%q) = %s, %v; of its compact form %s, %v", in, fromIn, okIn, fromCompact, okCompact)
		}
		// The canonical form is its own canonical form.
		if again, ok := upstream.CanonicalJSON(nil, fromIn); !ok || !bytes.Equal(again, fromIn) {
			t.Fatalf("CanonicalJSON(%s) = %s, %v; not a fixed point", fromIn, again, ok)
		}
		// json.Marshal's output: re-encode to its escaping.
		var v any
		dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		// json.Marshal sorts keys as decoded, CanonicalJSON as encoded:
		// the two orders differ only where a key holds an escape.
		if bytes.IndexByte(b, '\\') >= 0 {
			return
		}
		// json.Marshal sorted b's keys: this checks nesting, strings and
		// numbers; the table tests check keys out of order.
		want, ok := oldCanonical(b)
		got, gotOK := upstream.CanonicalJSON(nil, b)
		if ok != gotOK || !bytes.Equal(got, want) {
			t.Fatalf("CanonicalJSON(%s) = %s, %v; want %s, %v", b, got, gotOK, want, ok)
		}
	})
}

// etagBenchConfig is a service configuration as the simulator sends one:
// about the size of arcgate-bench's.
var etagBenchConfig = []byte(`{"serviceName":"World","type":"MapServer","description":"x","properties":{"maxRecordCount":"1000","a":"b","outputDir":"c:\\arcgis"},"extensions":[{"typeName":"KmlServer","enabled":"true","properties":{"z":"1","compressionLevel":"3"}},{"typeName":"WMSServer","enabled":"false","properties":{}}],"minInstancesPerNode":1,"maxInstancesPerNode":2}`)

func BenchmarkEtagCanonical(b *testing.B) {
	in := etagBenchConfig
	b.Run("decode-encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = oldCanonical(in)
		}
	})
	b.Run("CanonicalJSON", func(b *testing.B) {
		b.ReportAllocs()
		dst := make([]byte, 0, len(in))
		for b.Loop() {
			_, _ = upstream.CanonicalJSON(dst[:0], in)
		}
	})
}

// TestReceivedDigest: a service configuration and item info decoded from
// upstream JSON, by every decoding path, keep the SHA-256 of the canonical
// form of the object as received; one state sent with its keys in another
// order and other white space has the same digest, another state another;
// a value built in code has none.
func TestReceivedDigest(t *testing.T) {
	type digester interface {
		json.Unmarshaler
		ReceivedDigest() ([32]byte, bool)
	}
	for _, tc := range []struct {
		name      string
		fresh     func() digester
		body      string
		same      string // body's state, keys in another order, other white space
		different string
	}{
		{
			name:      "service configuration",
			fresh:     func() digester { return new(upstream.ServiceConfig) },
			body:      `{"serviceName":"World","type":"MapServer","maxWaitTime":60,"properties":{"a":"1","b":"2"},"extensions":[{"typeName":"KmlServer","enabled":"true"}],"jsonProperties":{"x":[1,{"z":0,"y":"é"}]}}`,
			same:      "{\n  \"jsonProperties\": {\"x\": [1, {\"y\": \"é\", \"z\": 0}]},\n  \"extensions\": [{\"enabled\": \"true\", \"typeName\": \"KmlServer\"}],\n  \"properties\": {\"b\": \"2\", \"a\": \"1\"},\n  \"maxWaitTime\": 60, \"type\": \"MapServer\", \"serviceName\": \"World\"\n}\n",
			different: `{"serviceName":"World","type":"MapServer","maxWaitTime":60,"properties":{"a":"1","b":"2"},"extensions":[{"typeName":"KmlServer","enabled":"true"}],"jsonProperties":{"x":[1,{"z":1,"y":"é"}]}}`,
		},
		{
			name:      "item info, one-pass decoder",
			fresh:     func() digester { return new(upstream.ItemInfo) },
			body:      `{"title":"Roads","tags":["a","b"],"extent":[[1,2],[3,4]],"minScale":0}`,
			same:      "{ \"minScale\" : 0, \"extent\" : [[1, 2], [3, 4]],\r\n\t\"tags\" : [\"a\", \"b\"], \"title\" : \"Roads\" }",
			different: `{"title":"Roads","tags":["b","a"],"extent":[[1,2],[3,4]],"minScale":0}`,
		},
		{
			name:      "item info, encoding/json (an escaped key)",
			fresh:     func() digester { return new(upstream.ItemInfo) },
			body:      `{"t\u0069tle":"Roads","tags":"a,b"}`,
			same:      ` {"tags" : "a,b" , "t\u0069tle" : "Roads"} `,
			different: `{"t\u0069tle":"Roads","tags":"a,c"}`,
		},
		{
			name:      "item info, key by key (a key in two spellings)",
			fresh:     func() digester { return new(upstream.ItemInfo) },
			body:      `{"title":"Roads","Title":"Streets"}`,
			same:      `{ "Title" : "Streets" , "title" : "Roads" }`,
			different: `{"title":"Roads","Title":"Lanes"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			digest := func(body string) [32]byte {
				t.Helper()
				v := tc.fresh()
				if err := v.UnmarshalJSON([]byte(body)); err != nil {
					t.Fatalf("decode %s: %v", body, err)
				}
				sum, ok := v.ReceivedDigest()
				if !ok {
					t.Fatalf("decode %s: no digest", body)
				}
				return sum
			}
			canon, ok := upstream.CanonicalJSON(nil, []byte(tc.body))
			if !ok {
				t.Fatalf("CanonicalJSON(%s) refused", tc.body)
			}
			if got, want := digest(tc.body), sha256.Sum256(canon); got != want {
				t.Errorf("digest %x, want the SHA-256 of %s, %x", got, canon, want)
			}
			if digest(tc.same) != digest(tc.body) {
				t.Errorf("%q: another digest than %s", tc.same, tc.body)
			}
			if digest(tc.different) == digest(tc.body) {
				t.Errorf("%s: the digest of %s", tc.different, tc.body)
			}
		})
	}
	if _, ok := (&upstream.ServiceConfig{ServiceName: "World"}).ReceivedDigest(); ok {
		t.Error("a service configuration built in code has a digest")
	}
	if _, ok := (&upstream.ItemInfo{Title: "Roads"}).ReceivedDigest(); ok {
		t.Error("item info built in code has a digest")
	}
	var null upstream.ItemInfo
	if err := null.UnmarshalJSON([]byte("null")); err != nil {
		t.Fatal(err)
	}
	if _, ok := null.ReceivedDigest(); ok {
		t.Error("item info decoded from null has a digest (it keeps no object)")
	}
}

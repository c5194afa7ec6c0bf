package server

import (
	"bytes"
	"encoding/json"
	"testing"
)

// oldCanonical is what canonicalJSON replaces: decode into interface
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

// TestCanonicalJSONMatchesDecodeEncode checks canonicalJSON against
// decoding and encoding again, on the compact JSON json.Marshal writes.
func TestCanonicalJSONMatchesDecodeEncode(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `"s"`, `12.50`, `null`, `true`,
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
		got, gotOK := canonicalJSON(nil, b)
		if ok != gotOK || !bytes.Equal(got, want) {
			t.Errorf("canonicalJSON(%s) = %s, %v; want %s, %v", b, got, gotOK, want, ok)
		}
	}
}

// FuzzCanonicalJSON compares canonicalJSON with decoding and encoding
// again on every valid compact input.
func FuzzCanonicalJSON(f *testing.F) {
	f.Add([]byte(`{"b":{"d":[1,{"f":2,"e":3}],"c":"}"},"a":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var buf bytes.Buffer
		if json.Compact(&buf, in) != nil {
			return
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
		// json.Marshal sorted b's keys: this checks nesting, strings and
		// numbers; the table test checks keys out of order.
		want, ok := oldCanonical(b)
		got, gotOK := canonicalJSON(nil, b)
		if ok != gotOK || !bytes.Equal(got, want) {
			t.Fatalf("canonicalJSON(%s) = %s, %v; want %s, %v", b, got, gotOK, want, ok)
		}
	})
}

func BenchmarkEtagCanonical(b *testing.B) {
	in := []byte(`{"serviceName":"World","type":"MapServer","description":"x","properties":{"maxRecordCount":"1000","a":"b","outputDir":"c:\\arcgis"},"extensions":[{"typeName":"KmlServer","enabled":"true","properties":{"z":"1","compressionLevel":"3"}},{"typeName":"WMSServer","enabled":"false","properties":{}}],"minInstancesPerNode":1,"maxInstancesPerNode":2}`)
	b.Run("decode-encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = oldCanonical(in)
		}
	})
	b.Run("canonicalJSON", func(b *testing.B) {
		b.ReportAllocs()
		dst := make([]byte, 0, len(in))
		for b.Loop() {
			_, _ = canonicalJSON(dst[:0], in)
		}
	})
}

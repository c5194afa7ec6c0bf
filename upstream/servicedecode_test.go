package upstream

import (
	"encoding/json"
	"reflect"
	"testing"
)

// serviceConfigCases are service configurations the fast decoder takes or
// hands back; each must decode to what the encoding/json path gives.
var serviceConfigCases = []struct {
	name string
	body string
	fast bool // whether decodeServiceConfigFast takes it
}{
	{"empty", `{}`, true},
	{"simulator", `{"allowedUploadFileTypes":"","capabilities":"Map,Query,Data","clusterName":"default","description":"Generated map service Bulk_0001.","extensions":[],"frameworkProperties":{},"id":"27a7hm8x9hvin7xwctfo5","instancesPerContainer":1,"isolationLevel":"HIGH","jsonProperties":{},"loadBalancing":"ROUND_ROBIN","maxIdleTime":1800,"maxInstancesPerNode":2,"maxStartupTime":300,"maxUploadFileSize":0,"maxUsageTime":600,"maxWaitTime":60,"minInstancesPerNode":1,"portalProperties":{"isHosted":false,"portalItems":[]},"private":false,"properties":{"cacheOnDemand":"false","filePath":"${arcgisinput}/Bulk_0001.MapServer/extracted/p30/bulk_0001.mapx","isCached":"false","maxBufferCount":"100","outputDir":"/arcgis/server/usr/directories/arcgisoutput"},"provider":"ArcObjects11","recycleInterval":24,"recycleStartTime":"00:00","serviceName":"Bulk_0001","type":"MapServer"}`, true},
	{"extensions", `{"serviceName":"S","extensions":[{"typeName":"KmlServer","capabilities":"SingleImage","enabled":"true","properties":{"compatibilityMode":"GoogleEarth"}},{"typeName":"WMSServer","enabled":false},null]}`, true},
	{"spaces", " { \"serviceName\" : \"S\" ,\n\"maxWaitTime\" : 60 , \"properties\" : { \"a\" : \"1\" , \"b\" : 2 } ,\t\"extensions\" : [ { \"typeName\" : \"X\" } , null ] , \"private\" : true } ", true},
	{"numbers as strings", `{"maxWaitTime":"60","maxIdleTime":" 1800 ","maxUsageTime":"6e2","maxStartupTime":300.0,"recycleInterval":null,"minInstancesPerNode":""}`, true},
	{"negative and big", `{"maxWaitTime":-1,"maxIdleTime":123456789012345678,"maxUsageTime":1234567890123456789}`, true},
	{"fraction", `{"maxWaitTime":1.5}`, false},
	{"too big", `{"maxWaitTime":1e30}`, false},
	{"booleans", `{"private":"TRUE"}`, true},
	{"boolean 1", `{"private":1}`, true},
	{"boolean null", `{"private":null}`, true},
	{"bad boolean", `{"private":"maybe"}`, false},
	{"scalars as text", `{"serviceName":12,"type":true,"description":null,"capabilities":-1.5e3}`, true},
	{"object as text", `{"description":{"a":1}}`, false},
	{"property values", `{"properties":{"a":1,"b":true,"c":null,"d":{"x": [1, 2]},"e":["y"],"f":"é","g":"a\"b","h":"\u00e9"}}`, true},
	{"property key repeated", `{"properties":{"a":"1","a":"2"}}`, true},
	{"property key escaped", `{"properties":{"\u0061":"1"}}`, false},
	{"property key invalid utf8", "{\"properties\":{\"a\xff\":\"1\"}}", false},
	{"properties null", `{"properties":null}`, true},
	{"properties empty", `{"properties":{}}`, true},
	{"properties not an object", `{"properties":"x"}`, false},
	{"extensions null", `{"extensions":null}`, true},
	{"extensions not a list", `{"extensions":{}}`, false},
	{"extension bad", `{"extensions":[{"enabled":"maybe"}]}`, false},
	{"extension key twice", `{"extensions":[{"typeName":"A","typeName":"B"},{"typeName":"C"}]}`, true},
	{"extension properties twice", `{"extensions":[{"properties":{"a":"1"},"properties":{"b":"2"}}]}`, true},
	{"extension odd case", `{"extensions":[{"TypeName":"A","Enabled":"true"}]}`, true},
	{"extension kelvin key", `{"extensions":[{"\u212aey":"k","typeName":"A"}]}`, true},
	{"extension spaces", "{\"extensions\" : [ { \"typeName\" : \"A\" , \"properties\" : { } } , [ ] ]}", false},
	{"extension spaces, object", "{\"extensions\" : [ { \"typeName\" : \"A\" , \"properties\" : { } } ]}", true},
	{"invalid utf8 value", "{\"serviceName\":\"a\xffb\"}", true},
	{"escaped value", `{"serviceName":"a\u0062c","description":"x\ny"}`, true},
	{"odd case", `{"ServiceName":"S"}`, false},
	{"kelvin key", `{"\u212aey":"k","serviceName":"S"}`, false},
	{"kelvin in a modelled key", "{\"ma\u212aWaitTime\":1}", true},
	{"escaped key", `{"serviceNam\u0065":"S"}`, false},
	{"repeated key", `{"serviceName":"a","serviceName":"b"}`, false},
	{"repeated properties", `{"properties":{"a":"1"},"properties":{"b":"2"}}`, false},
	{"top-level null", `null`, false},
	{"top-level array", `[]`, false},
}

// decodeBoth decodes b both ways.
func decodeBoth(b []byte) (fast ServiceConfig, fastOK bool, want ServiceConfig, wantErr error) {
	fast, fastOK = decodeServiceConfigFast(b)
	wantErr = want.decodeJSON(b)
	return fast, fastOK, want, wantErr
}

func TestDecodeServiceConfigFastMatchesJSON(t *testing.T) {
	for _, tc := range serviceConfigCases {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.body)
			if !json.Valid(b) {
				t.Fatal("invalid test body")
			}
			fast, ok, want, wantErr := decodeBoth(b)
			if ok != tc.fast {
				t.Fatalf("decodeServiceConfigFast took it: %v, want %v (encoding/json: %v)", ok, tc.fast, wantErr)
			}
			var got ServiceConfig
			err := got.UnmarshalJSON(b)
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("error %v, want %v", err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%#v\nwant\n%#v", got, want)
			}
			if ok && (wantErr != nil || !reflect.DeepEqual(fast, want)) {
				t.Fatalf("fast decoded\n%#v\nwant\n%#v, %v", fast, want, wantErr)
			}
		})
	}
}

// FuzzServiceConfigFast checks that the one-pass decoder and the
// encoding/json path agree on every input it takes, and that it takes no
// input that is not JSON (it is the only check of the answers it takes).
func FuzzServiceConfigFast(f *testing.F) {
	for _, tc := range serviceConfigCases {
		f.Add([]byte(tc.body))
	}
	for _, s := range notJSONBodies {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"serviceName":"\u00e9\ud800","id":12e3,"recycleInterval":"2.0e1"}`))
	f.Add([]byte(`{"a":1,"a":2,"maxWaitTime":1,"maxWaitTime":"2"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok, want, wantErr := decodeBoth(b)
		if ok && !json.Valid(b) {
			t.Fatalf("%q is not JSON, and the one-pass decoder took it", b)
		}
		if ok && (wantErr != nil || !reflect.DeepEqual(fast, want)) {
			t.Fatalf("%q: fast decoded %#v, encoding/json %#v, %v", b, fast, want, wantErr)
		}
	})
}

// TestDecodeServiceConfigAllocations bounds the allocations of decoding
// the simulator's configuration: the body's two copies (strings, Raw),
// the properties map and the extensions (the digest's canonical form is
// written in pooled memory).
func TestDecodeServiceConfigAllocations(t *testing.T) {
	b := []byte(serviceConfigCases[1].body)
	got := testing.AllocsPerRun(20, func() {
		var c ServiceConfig
		if err := c.UnmarshalJSON(b); err != nil || c.MaxIdleTime != 1800 {
			t.Fatal(err, c)
		}
	})
	t.Logf("%v allocations", got)
	if got > 8 && !raceBuild {
		t.Errorf("decoding a service configuration: %v allocations, want at most 8", got)
	}
}

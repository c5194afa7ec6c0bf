package upstream

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// notJSONBodies are answers that are not JSON, each close to a body the
// one-pass decoders take: none of them may take it, and decodeResponse
// must give the error the encoding/json path gives.
var notJSONBodies = []string{
	`{"folderName":"Bulk"} x`,
	`{"folderName":"Bulk"}}`,
	`{"folderName":"Bulk"}{}`,
	`{"folderName":"Bulk",}`,
	`{"folderName":"Bulk" "id":"x"}`,
	`{"folderName" "Bulk"}`,
	`{"folderName":"Bulk"`,
	`{"folderName":"a\x"}`,
	`{"folderName":"a\u12G4"}`,
	`{"folderName":"a\u123"}`,
	`{"folderName":"a\"}`,
	"{\"folderName\":\"a\tb\"}",
	"{\"folderName\":\"a\x00b\"}",
	"{\"fold\nerName\":\"a\"}",
	`{"title":"a\q","serviceName":"x"}`,
	`{"folderName":tru}`,
	`{"folderName":nul}`,
	`{"folderName":truex}`,
	`{"webEncrypted":fals}`,
	`{"private":True}`,
	`{"maxWaitTime":01}`,
	`{"maxWaitTime":1.}`,
	`{"maxWaitTime":.5}`,
	`{"maxWaitTime":-}`,
	`{"maxWaitTime":1e}`,
	`{"maxWaitTime":1e+}`,
	`{"maxWaitTime":+1}`,
	`{"maxWaitTime":0x10}`,
	`{"maxWaitTime":NaN}`,
	`{"description":'x'}`,
	`{"extra":[1,]}`,
	`{"extra":[1 2]}`,
	`{"extra":{"a" 1}}`,
	`{"extra":{"a":1,}}`,
	`{"extra":{1:1}}`,
	`{"extra":[}`,
	`{"extra":"\ud800\u"}`,
	`{"services":[{"serviceName":"A",}]}`,
	`{"services":[{"serviceName":"A"},]}`,
	`{"services":[{"serviceName":"A"}}`,
	`{"folders":["a",]}`,
	`{"folders":["a\z"]}`,
	`{"tags":["a","b\x"]}`,
	`{"tags":"a\x"}`,
	`{"extent":{"xmin":1,"ymin":2,"xmax":3,"ymax":4,}}`,
	`{"extent":[[1,2],[3,4]]]}`,
	`{"extent":[[1,2],[3,-]]}`,
	`{"properties":{"a":"1",}}`,
	`{"properties":{"a":01}}`,
	`{"extensions":[{"typeName":"A"},]}`,
	`{"extensions":[{"typeName":"A",}]}`,
	"\xef\xbb\xbf{}",
	"\xc2\xa0{}",
	"{}\xc2\xa0",
	"{}\x00",
	"",
	" ",
	`{`,
	`{"a":` + strings.Repeat("[", 600) + strings.Repeat("]", 599) + `}`,
}

// jsonOnly types decode only the encoding/json way (json.Unmarshal, then
// UnmarshalJSON): the reference for decodeResponse.
type (
	jsonOnlyListing FolderListing
	jsonOnlyConfig  ServiceConfig
	jsonOnlyItem    ItemInfo
)

func (l *jsonOnlyListing) UnmarshalJSON(b []byte) error { return (*FolderListing)(l).UnmarshalJSON(b) }
func (c *jsonOnlyConfig) UnmarshalJSON(b []byte) error  { return (*ServiceConfig)(c).UnmarshalJSON(b) }
func (i *jsonOnlyItem) UnmarshalJSON(b []byte) error    { return (*ItemInfo)(i).UnmarshalJSON(b) }

// checkAgainstJSON checks that decodeResponse and checkResponse, which
// take the one-pass decoders' answers without another check, give on b
// what the encoding/json path gives: the same value, the same error.
func checkAgainstJSON(t *testing.T, b []byte) {
	t.Helper()
	const ct = "application/json"
	same := func(what string, got, want *Error, gotV, wantV any) {
		t.Helper()
		if (got == nil) != (want == nil) || got != nil && (got.Error() != want.Error() || got.Kind != want.Kind) {
			t.Fatalf("%q, %s: error %v, encoding/json path %v", b, what, got, want)
		}
		if got == nil && !reflect.DeepEqual(gotV, wantV) {
			t.Fatalf("%q, %s: decoded\n%#v\nencoding/json path\n%#v", b, what, gotV, wantV)
		}
	}
	var l, l2 FolderListing
	var c, c2 ServiceConfig
	var i, i2 ItemInfo
	same("listing", decodeResponse(200, ct, b, &l), decodeResponse(200, ct, b, (*jsonOnlyListing)(&l2)), l, l2)
	same("config", decodeResponse(200, ct, b, &c), decodeResponse(200, ct, b, (*jsonOnlyConfig)(&c2)), c, c2)
	same("item info", decodeResponse(200, ct, b, &i), decodeResponse(200, ct, b, (*jsonOnlyItem)(&i2)), i, i2)

	for _, status := range []int{200, 204, 404, 499, 500} {
		want := decodeResponse(status, ct, b, nil)
		for _, check := range []checkedDecoder{(*FolderListing)(nil), (*ServiceConfig)(nil), (*ItemInfo)(nil)} {
			d, got := checkResponse(status, ct, b, check)
			same(fmt.Sprintf("checked, HTTP %d", status), got, want, nil, nil)
			if d == nil {
				continue
			}
			if want != nil {
				t.Fatalf("%q: %T decoded an answer that is not JSON", b, check)
			}
			// What was decoded while checking is what the caller would decode.
			fresh := check.newChecked()
			if err := unmarshalValid(b, fresh); err != nil || !reflect.DeepEqual(d, fresh) {
				t.Fatalf("%q: %T decoded while checking\n%#v\nthen\n%#v, %v", b, check, d, fresh, err)
			}
		}
	}

	// A body a decoder takes without a key that may make it an error
	// envelope is one mayBeEnvelope passes.
	_, ok1, env1 := scanListing(b)
	_, ok2, env2 := scanServiceConfig(b)
	_, ok3, env3 := scanItemInfo(b)
	if (ok1 && !env1 || ok2 && !env2 || ok3 && !env3) && mayBeEnvelope(b) {
		t.Fatalf("%q: taken with no envelope key, and mayBeEnvelope looks for one", b)
	}
}

func TestDecodeResponseNotJSON(t *testing.T) {
	for _, body := range notJSONBodies {
		b := []byte(body)
		if json.Valid(b) {
			t.Fatalf("%q is JSON", b)
		}
		if _, ok := decodeListingFast(b); ok {
			t.Errorf("%q: decodeListingFast took it", b)
		}
		if _, ok := decodeServiceConfigFast(b); ok {
			t.Errorf("%q: decodeServiceConfigFast took it", b)
		}
		if _, ok := decodeItemInfoFast(b); ok {
			t.Errorf("%q: decodeItemInfoFast took it", b)
		}
		checkAgainstJSON(t, b)
	}
}

func TestDecodeResponseCheckedMatchesJSON(t *testing.T) {
	var bodies []string
	for _, tc := range listingCases {
		bodies = append(bodies, tc.body)
	}
	for _, tc := range serviceConfigCases {
		bodies = append(bodies, tc.body)
	}
	for _, tc := range itemInfoCases {
		bodies = append(bodies, tc.body)
	}
	bodies = append(bodies,
		" \r\n\t{\"title\":\"T\",\"serviceName\":\"S\",\"folderName\":\"F\"} \n",
		`{"extra":`+strings.Repeat("[", 500)+strings.Repeat("]", 500)+`}`,
		`{"extra":`+strings.Repeat("[", 600)+strings.Repeat("]", 600)+`}`,
		`{"status":"error","code":500,"messages":["x"]}`,
		`{"error":{"code":498,"message":"Invalid token."}}`,
		`{"folderName":"F","services":[],"status":"error","code":498,"messages":["Invalid token."]}`,
		`{"serviceName":"S","STATUS":"error","code":"500"}`,
		`{"title":"T","Error":{"code":403,"message":"no"}}`,
		"{\"title\":\"T\",\"\u017ftatus\":\"error\"}",
		`{"folderName":"F","status":"success"}`,
		`{"serviceName":"S","error":"none"}`,
		`{"services":[{"serviceName":"A","status":"error"}],"properties":{"error":"x"}}`,
		`{"numbers":[0,-0,1.5,-1e5,1E+2,2e-3,123456789012345678901234567890]}`,
		`{"folderName":"\ud800\udc00\u00e9\/\b\f\n\r\t"}`,
	)
	for _, body := range bodies {
		checkAgainstJSON(t, []byte(body))
	}
}

// TestValidValue checks the validating scanner against json.Valid.
func TestValidValue(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`0`, true}, {`-0`, true}, {`-0.5e-7`, true}, {`12E+3`, true}, {`1`, true},
		{`01`, false}, {`-`, false}, {`1.`, false}, {`1e`, false}, {`.1`, false}, {`+1`, false},
		{`true`, true}, {`false`, true}, {`null`, true}, {`tru`, false}, {`nulll`, false}, {`True`, false},
		{`""`, true}, {`"\u00E9\uD800"`, true}, {"\"\xff\xfe\"", true}, {`"\/"`, true},
		{`"\a"`, false}, {`"\u00e"`, false}, {`"` + "\x1f" + `"`, false}, {`"\`, false}, {`"`, false},
		{`[]`, true}, {`[ 1 , [ ] , { } ]`, true}, {`[1,]`, false}, {`[,1]`, false}, {`[1 2]`, false},
		{`{}`, true}, {`{ "a" : 1 , "b" : { } }`, true}, {`{"a":1,}`, false}, {`{"a"}`, false}, {`{a:1}`, false},
		{strings.Repeat("[", maxScanDepth) + strings.Repeat("]", maxScanDepth), true},
		{`[1] `, true}, {` [1]`, true}, {`[1] x`, false}, {``, false},
	} {
		b := []byte(tc.in)
		if json.Valid(b) != tc.ok {
			t.Fatalf("%q: json.Valid disagrees with the table", tc.in)
		}
		end := validValue(b, 0)
		if got := end >= 0 && skipSpace(b, end) == len(b); got != tc.ok {
			t.Errorf("validValue(%q) = %d: valid %v, want %v", tc.in, end, got, tc.ok)
		}
	}
	deep := strings.Repeat("[", maxScanDepth+1) + strings.Repeat("]", maxScanDepth+1)
	if validValue([]byte(deep), 0) >= 0 {
		t.Errorf("validValue took %d levels, more than maxScanDepth", maxScanDepth+1)
	}
}

// FuzzValidValue checks the validating scanner against json.Valid: it
// takes nothing json.Valid refuses, and everything it takes no deeper than
// maxScanDepth.
func FuzzValidValue(f *testing.F) {
	for _, s := range notJSONBodies {
		f.Add([]byte(s))
	}
	for _, tc := range listingCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := validValue(b, 0)
		got := end >= 0 && skipSpace(b, end) == len(b)
		want := json.Valid(b)
		if got && !want || want && !got && depthOf(b) <= maxScanDepth {
			t.Fatalf("%q: validValue %v (%d), json.Valid %v", b, got, end, want)
		}
	})
}

// FuzzDecodeResponseChecked checks decodeResponse and checkResponse, with
// the one-pass decoders checking the JSON, against the encoding/json path
// on any body.
func FuzzDecodeResponseChecked(f *testing.F) {
	for _, s := range notJSONBodies {
		f.Add([]byte(s))
	}
	for _, tc := range listingCases {
		f.Add([]byte(tc.body))
	}
	for _, tc := range serviceConfigCases {
		f.Add([]byte(tc.body))
	}
	for _, tc := range itemInfoCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgainstJSON(t, b)
	})
}

// depthOf returns the deepest nesting of brackets in b, outside strings.
func depthOf(b []byte) int {
	depth, most, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			most = max(most, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return most
}

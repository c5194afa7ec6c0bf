package upstream

import (
	"strings"
	"unicode/utf8"
)

// This file holds the one-pass decoder of folder listings, the answer of
// every ListServices call. encoding/json checks the whole body and then
// decodes it by reflection, one small allocation per string; this decoder
// walks the bytes once, checking the JSON grammar as it goes, and takes
// every plain string as a slice of one copy of the body.

// decodeListingFast decodes the usual shape of a folder listing from b,
// checking in the same pass that b is JSON (jsonscan.go), so that a
// listing it takes needs no other check. It reports false for anything
// that is not JSON and anything it does not handle the way encoding/json
// does: an escaped key, a key that differs from a field's
// only by case (encoding/json matches keys case-insensitively), a list
// sent twice (encoding/json decodes the second over the first one's
// elements), a value of an unexpected kind, a scalar the tolerant types
// reject. The caller then
// decodes b with json.Unmarshal, so both give the same listing or error.
func decodeListingFast(b []byte) (FolderListing, bool) {
	l, ok, _ := scanListing(b)
	return l, ok
}

// scanListing is decodeListingFast, also reporting whether b has a
// top-level key that may make it an error envelope (listingScan.topKey).
func scanListing(b []byte) (_ FolderListing, ok, envelope bool) {
	d := listingScan{b: b, s: string(b)}
	var l FolderListing
	var lists uint8 // the lists seen: encoding/json decodes a second one over the first one's elements
	once := func(bit uint8) bool {
		seen := lists&bit != 0
		lists |= bit
		return !seen
	}
	ok = d.object(func(key string) bool {
		d.topKey(key)
		switch key {
		case "folderName":
			return d.text(&l.FolderName)
		case "description":
			return d.text(&l.Description)
		case "id":
			return d.text(&l.ID)
		case "webEncrypted":
			return d.bool(&l.WebEncrypted)
		case "isDefault":
			return d.bool(&l.IsDefault)
		case "folders":
			return once(1) && d.folders(&l.Folders)
		case "foldersDetail":
			return once(2) && d.foldersDetail(&l.FoldersDetail)
		case "services":
			return once(4) && d.services(&l.Services)
		}
		return d.other(key, listingKeys)
	})
	if !ok || d.end() != len(b) {
		return FolderListing{}, false, false
	}
	return l, true, d.envelope
}

var (
	listingKeys = []string{"folderName", "description", "id", "webEncrypted", "isDefault", "folders", "foldersDetail", "services"}
	infoKeys    = []string{"folderName", "description", "id", "webEncrypted", "isDefault"}
	summaryKeys = []string{"folderName", "serviceName", "type", "serviceType", "description", "id"}
)

// listingScan is the state of decodeListingFast: b, s (the same bytes as a
// string, sliced for plain strings) and the position i.
type listingScan struct {
	b []byte
	s string
	i int
	// envelope records a top-level key that may make the body an error
	// envelope (topKey).
	envelope bool
}

// topKey notes a top-level key: "status" or "error" in any case, the keys
// that make mayBeEnvelope look for an error envelope. A body a decoder
// takes without such a key is one mayBeEnvelope answers false for (it is
// an object, and the decoders take no escaped key).
func (d *listingScan) topKey(key string) {
	if strings.EqualFold(key, "status") || strings.EqualFold(key, "error") {
		d.envelope = true
	}
}

func (d *listingScan) space() { d.i = skipSpace(d.b, d.i) }

// end returns the position after trailing spaces.
func (d *listingScan) end() int { d.space(); return d.i }

// object walks an object, calling field for each key with d.i at the
// start of its value; field must consume the value.
func (d *listingScan) object(field func(key string) bool) bool {
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return false
	}
	d.i++
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return true
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return false
		}
		end, escaped := scanString(d.b, d.i)
		if end < 0 || escaped {
			return false
		}
		key := d.s[d.i+1 : end-1]
		d.i = skipSpace(d.b, end)
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return false
		}
		d.i++
		d.space()
		if !field(key) {
			return false
		}
		d.space()
		if d.i >= len(d.b) {
			return false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

// array walks an array, calling elem with d.i at the start of each element.
// A null array calls nothing and reports null.
func (d *listingScan) array(elem func() bool) (ok, null bool) {
	if strings.HasPrefix(d.s[d.i:], "null") {
		d.i += 4
		return true, true
	}
	if d.i >= len(d.b) || d.b[d.i] != '[' {
		return false, false
	}
	d.i++
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return true, false
	}
	for {
		d.space()
		if !elem() {
			return false, false
		}
		d.space()
		if d.i >= len(d.b) {
			return false, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return true, false
		default:
			return false, false
		}
	}
}

// other skips the value of a key that is not a field, unless the key
// matches one of keys but for case.
func (d *listingScan) other(key string, keys []string) bool {
	for _, k := range keys {
		if strings.EqualFold(key, k) {
			return false
		}
	}
	end := validValue(d.b, d.i)
	if end < 0 {
		return false
	}
	d.i = end
	return true
}

// scalar returns the raw text of the valid scalar at d.i and moves past
// it.
func (d *listingScan) scalar() (string, bool) {
	start := d.i
	var end int
	if d.b[start] == '"' {
		end, _ = scanString(d.b, start)
	} else {
		end = scanScalar(d.b, start)
	}
	if end < 0 {
		return "", false
	}
	d.i = end
	return d.s[start:end], true
}

// text decodes a jsonText at d.i into dst.
func (d *listingScan) text(dst *string) bool {
	if d.i >= len(d.b) {
		return false
	}
	raw, ok := d.scalar()
	if !ok {
		return false
	}
	if len(raw) >= 2 && raw[0] == '"' && plainText(raw[1:len(raw)-1]) {
		*dst = raw[1 : len(raw)-1]
		return true
	}
	var t jsonText
	if t.UnmarshalJSON([]byte(raw)) != nil {
		return false
	}
	*dst = string(t)
	return true
}

// plainText reports whether s, the inside of a JSON string, decodes to
// itself: no escapes, no control bytes, valid UTF-8.
func plainText(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '"' || c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s)
}

// bool decodes a jsonBool at d.i into dst.
func (d *listingScan) bool(dst *bool) bool {
	if d.i >= len(d.b) {
		return false
	}
	raw, ok := d.scalar()
	if !ok {
		return false
	}
	switch raw {
	case "true":
		*dst = true
		return true
	case "false":
		*dst = false
		return true
	}
	var v jsonBool
	if v.UnmarshalJSON([]byte(raw)) != nil {
		return false
	}
	*dst = bool(v)
	return true
}

func (d *listingScan) folders(dst *[]string) bool {
	var out []string
	ok, null := d.array(func() bool {
		var s string
		if !d.text(&s) {
			return false
		}
		out = append(out, s)
		return true
	})
	if ok {
		*dst = nil
		if !null {
			*dst = out
		}
	}
	return ok
}

func (d *listingScan) foldersDetail(dst *[]FolderInfo) bool {
	out := []FolderInfo{}
	ok, null := d.array(func() bool {
		var f FolderInfo
		if !d.object(func(key string) bool {
			switch key {
			case "folderName":
				return d.text(&f.FolderName)
			case "description":
				return d.text(&f.Description)
			case "id":
				return d.text(&f.ID)
			case "webEncrypted":
				return d.bool(&f.WebEncrypted)
			case "isDefault":
				return d.bool(&f.IsDefault)
			}
			return d.other(key, infoKeys)
		}) {
			return false
		}
		out = append(out, f)
		return true
	})
	if ok {
		*dst = nil
		if !null {
			*dst = out
		}
	}
	return ok
}

func (d *listingScan) services(dst *[]ServiceSummary) bool {
	out := make([]ServiceSummary, 0, 16)
	ok, null := d.array(func() bool {
		var s ServiceSummary
		var typ, serviceType string
		if !d.object(func(key string) bool {
			switch key {
			case "folderName":
				return d.text(&s.FolderName)
			case "serviceName":
				return d.text(&s.ServiceName)
			case "type":
				if strings.HasPrefix(d.s[d.i:], "null") {
					typ = "" // a null pointer: serviceType counts
					d.i += 4
					return true
				}
				return d.text(&typ)
			case "serviceType":
				return d.text(&serviceType)
			case "description":
				return d.text(&s.Description)
			case "id":
				return d.text(&s.ID)
			}
			return d.other(key, summaryKeys)
		}) {
			return false
		}
		s.Type = serviceType
		if typ != "" {
			s.Type = typ
		}
		if s.FolderName == "/" {
			s.FolderName = ""
		}
		out = append(out, s)
		return true
	})
	if ok {
		*dst = nil
		if !null {
			*dst = out
		}
	}
	return ok
}

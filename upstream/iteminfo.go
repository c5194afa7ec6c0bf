package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

// ItemInfoService manages the item information of services
// (admin/services/[<folder>/]<name>.<type>/iteminfo) and its thumbnail.
type ItemInfoService service

// ItemInfo is a service's item information.
//
// Upstream spells its keys in several ways (docs/upstream.md#item-info): the
// schema is lower-case (typekeywords, accessinformation), the current docs
// use camelCase (typeKeywords, licenseInfo), the 10.1 example capitalises
// "Culture", the services directory "Summary". Decoding matches keys
// without regard to ASCII case. Tags and type keywords arrive as a list, as
// one comma-separated string, or as a list whose entries are such strings
// (["a,b,c"]), and are split on commas in every case; the extent as an
// object of numbers or numeric strings, or as a pair of corners
// [[xmin,ymin],[xmax,ymax]]. An extent that is none of these (or lacks a
// coordinate) decodes as nil.
//
// Raw returns every key exactly as received. MarshalJSON writes the typed
// fields over Raw: a field still equal to what was decoded is written back
// byte for byte, a changed field is written under every spelling upstream
// used for it and in the form upstream used (a string of tags stays a
// string, a list holding one comma-separated string stays one, corner
// pairs stay corner pairs), and a field that was absent is written only
// when set, in the current docs' spelling (tags as a list,
// extent as an object). So keys this type does not model (name, type,
// catalogPath, minScale, ...) and the key case upstream chose survive an
// edit.
type ItemInfo struct {
	Title             string   // "title"
	Summary           string   // "summary" ("Summary" in the services directory)
	Snippet           string   // "snippet"
	Description       string   // "description"
	Tags              []string // "tags": list, comma-separated string, or list of one such string
	TypeKeywords      []string // "typeKeywords" / "typekeywords"
	Culture           string   // "culture" ("Culture" at 10.1), e.g. "en-US"
	GUID              string   // "guid"
	AccessInformation string   // "accessInformation" / "accessinformation" (credits)
	LicenseInfo       string   // "licenseInfo" / "licenseinfo" (use constraints)
	Documentation     string   // "documentation"
	URL               string   // "url"
	Extent            *Extent  // "extent"; nil when absent or not understood
	SpatialReference  string   // "spatialReference" / "spatialreference", a name such as "GCS_WGS_1984"
	Thumbnail         string   // "thumbnail": path relative to the item info, e.g. "thumbnail/image.jpg"

	// src is the object as received (see Raw).
	src json.RawMessage
	// received is the digest of src (ReceivedDigest).
	received digest
}

// Raw returns every key of the item info exactly as received, nil for item
// info that was not decoded from upstream JSON. Each call decodes the kept
// bytes again: it is for edits, not for every read.
func (i *ItemInfo) Raw() map[string]json.RawMessage { return rawObject(i.src) }

// Extent is an item's extent.
type Extent struct {
	XMin, YMin, XMax, YMax float64
}

// Thumbnail is an image file of an item info.
type Thumbnail struct {
	// Name is the file name, e.g. "thumbnail.png".
	Name string
	// ContentType is the media type, e.g. "image/png" (as upstream sent it
	// when read).
	ContentType string
	// Data is the file's content.
	Data []byte
}

// itemKey is one modelled item info key: the spelling written when upstream
// sent none (the current docs', docs/upstream.md#item-info-edits,
// docs/upstream.md#recorded-payloads) and its ASCII lower-case form, which
// received keys are matched against.
type itemKey struct {
	spelling string
	lower    string
}

func newItemKey(spelling string) itemKey { return itemKey{spelling, asciiLower(spelling)} }

var (
	keyTitle             = newItemKey("title")
	keySummary           = newItemKey("summary")
	keySnippet           = newItemKey("snippet")
	keyDescription       = newItemKey("description")
	keyTags              = newItemKey("tags")
	keyTypeKeywords      = newItemKey("typeKeywords")
	keyCulture           = newItemKey("culture")
	keyGUID              = newItemKey("guid")
	keyAccessInformation = newItemKey("accessInformation")
	keyLicenseInfo       = newItemKey("licenseInfo")
	keyDocumentation     = newItemKey("documentation")
	keyURL               = newItemKey("url")
	keyExtent            = newItemKey("extent")
	keySpatialReference  = newItemKey("spatialReference")
	keyThumbnail         = newItemKey("thumbnail")
)

// keys returns the keys of raw that spell k, best first: the current docs'
// spelling, then the lower-case schema spelling, then any other spelling in
// byte order (so that the choice is deterministic).
func (k itemKey) keys(raw map[string]json.RawMessage) []string {
	var out []string
	for name := range raw {
		if asciiLower(name) == k.lower {
			out = append(out, name)
		}
	}
	rank := func(s string) int {
		switch s {
		case k.spelling:
			return 0
		case k.lower:
			return 1
		}
		return 2
	}
	slices.SortFunc(out, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return out
}

// find returns the value of the best key spelling k, if any.
func (k itemKey) find(raw map[string]json.RawMessage) (json.RawMessage, bool) {
	keys := k.keys(raw)
	if len(keys) == 0 {
		return nil, false
	}
	return raw[keys[0]], true
}

// UnmarshalJSON decodes item info tolerantly and keeps the object as
// received, for Raw and MarshalJSON. It fails only when b is not a JSON
// object (or null).
//
// It decodes in one pass, usually by decodeItemInfoFast (which reads each
// key once, comparing in ASCII, and takes plain strings from one copy of
// b); what that hands back goes into itemInfoWire, whose keys encoding/json
// matches without regard to case. Where that could choose another value
// than the spelling rule of ItemInfo (best spelling first: the current
// docs', then lower case, then byte order), that is when a key arrives in
// two spellings or could be spelled with one of the few non-ASCII letters
// encoding/json folds onto ASCII ones, the object is decoded key by key
// instead (decodeItemInfoByKey).
func (i *ItemInfo) UnmarshalJSON(b []byte) error {
	if fast, ok := decodeItemInfoFast(b); ok {
		*i = fast
		return nil
	}
	return i.decodeJSON(b)
}

// decodeJSON is UnmarshalJSON through encoding/json (and decodeByKey where
// that could differ from the spelling rule): for what decodeItemInfoFast
// hands back.
func (i *ItemInfo) decodeJSON(b []byte) error {
	var w itemInfoWire
	if mayFoldNonASCII(b) {
		return i.decodeByKey(b)
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.repeated() {
		return i.decodeByKey(b)
	}
	*i = ItemInfo{
		Title:             w.Title.s,
		Summary:           w.Summary.s,
		Snippet:           w.Snippet.s,
		Description:       w.Description.s,
		Tags:              w.Tags.v,
		TypeKeywords:      w.TypeKeywords.v,
		Culture:           w.Culture.s,
		GUID:              w.GUID.s,
		AccessInformation: w.AccessInformation.s,
		LicenseInfo:       w.LicenseInfo.s,
		Documentation:     w.Documentation.s,
		URL:               w.URL.s,
		Extent:            w.Extent.v,
		SpatialReference:  w.SpatialReference.s,
		Thumbnail:         w.Thumbnail.s,
		src:               sourceOf(b),
	}
	i.received = digestOf(i.src)
	return nil
}

// itemInfoWire is the wire shape of ItemInfo. Its field types never fail
// (a value they do not understand is empty), and count the keys that
// reached them.
type itemInfoWire struct {
	Title             itemText   `json:"title"`
	Summary           itemText   `json:"summary"`
	Snippet           itemText   `json:"snippet"`
	Description       itemText   `json:"description"`
	Tags              itemList   `json:"tags"`
	TypeKeywords      itemList   `json:"typeKeywords"`
	Culture           itemText   `json:"culture"`
	GUID              itemText   `json:"guid"`
	AccessInformation itemText   `json:"accessInformation"`
	LicenseInfo       itemText   `json:"licenseInfo"`
	Documentation     itemText   `json:"documentation"`
	URL               itemText   `json:"url"`
	Extent            itemExtent `json:"extent"`
	SpatialReference  itemText   `json:"spatialReference"`
	Thumbnail         itemText   `json:"thumbnail"`
}

// repeated reports whether a key arrived in more than one spelling.
func (w *itemInfoWire) repeated() bool {
	for _, n := range [...]int{w.Title.n, w.Summary.n, w.Snippet.n, w.Description.n, w.Tags.n, w.TypeKeywords.n,
		w.Culture.n, w.GUID.n, w.AccessInformation.n, w.LicenseInfo.n, w.Documentation.n, w.URL.n, w.Extent.n,
		w.SpatialReference.n, w.Thumbnail.n} {
		if n > 1 {
			return true
		}
	}
	return false
}

// itemText is a text field of itemInfoWire (readItemText).
type itemText struct {
	s string
	n int
}

func (t *itemText) UnmarshalJSON(b []byte) error {
	t.s, t.n = readItemText(b), t.n+1
	return nil
}

// itemList is a tags field of itemInfoWire (readItemList).
type itemList struct {
	v []string
	n int
}

func (l *itemList) UnmarshalJSON(b []byte) error {
	l.v, l.n = readItemList(b), l.n+1
	return nil
}

// itemExtent is the extent field of itemInfoWire (readItemExtent).
type itemExtent struct {
	v *Extent
	n int
}

func (e *itemExtent) UnmarshalJSON(b []byte) error {
	e.v, e.n = readItemExtent(b), e.n+1
	return nil
}

// mayFoldNonASCII reports whether b holds, as is or escaped, one of the
// non-ASCII letters that encoding/json's key matching folds onto an ASCII
// one (ſ, ı, İ and the Kelvin sign): a key spelled with one is not a
// spelling of a modelled key for ItemInfo, which compares keys in ASCII.
func mayFoldNonASCII(b []byte) bool {
	for _, r := range [...]string{"\u017f", "\u0131", "\u0130", "\u212a"} {
		if bytes.Contains(b, []byte(r)) {
			return true
		}
	}
	for rest := b; ; {
		n := bytes.Index(rest, []byte(`\u`))
		if n < 0 || n+6 > len(rest) {
			return false
		}
		switch asciiLower(string(rest[n+2 : n+6])) {
		case "017f", "0131", "0130", "212a":
			return true
		}
		rest = rest[n+2:]
	}
}

// decodeByKey is UnmarshalJSON key by key, through a map of the object's
// keys: for an object where encoding/json's matching could differ from
// the spelling rule.
func (i *ItemInfo) decodeByKey(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	text := func(k itemKey) string {
		v, _ := k.find(raw)
		return readItemText(v)
	}
	list := func(k itemKey) []string {
		v, _ := k.find(raw)
		return readItemList(v)
	}
	ext, _ := keyExtent.find(raw)
	*i = ItemInfo{
		Title:             text(keyTitle),
		Summary:           text(keySummary),
		Snippet:           text(keySnippet),
		Description:       text(keyDescription),
		Tags:              list(keyTags),
		TypeKeywords:      list(keyTypeKeywords),
		Culture:           text(keyCulture),
		GUID:              text(keyGUID),
		AccessInformation: text(keyAccessInformation),
		LicenseInfo:       text(keyLicenseInfo),
		Documentation:     text(keyDocumentation),
		URL:               text(keyURL),
		Extent:            readItemExtent(ext),
		SpatialReference:  text(keySpatialReference),
		Thumbnail:         text(keyThumbnail),
		src:               sourceOf(b),
	}
	i.received = digestOf(i.src)
	return nil
}

// readItemText reads a text value: strings as they are, numbers and
// booleans as their literal, objects and arrays as compact JSON, null and
// absence as "".
func readItemText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var t anyText
	if err := t.UnmarshalJSON(raw); err != nil {
		return ""
	}
	return string(t)
}

// readItemList reads tags or type keywords: a comma-separated string or a
// list, whose string entries may be comma-separated too (some servers
// keep ["a,b,c"]). Every string is split on commas; entries are trimmed,
// empty ones dropped; null or absence is nil.
func readItemList(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	// addSplit adds a JSON string's comma-separated parts, or another
	// value's text whole.
	addSplit := func(v json.RawMessage) {
		var s string
		if !isJSONString(v) || json.Unmarshal(v, &s) != nil {
			add(readItemText(v))
			return
		}
		for _, part := range strings.Split(s, ",") {
			add(part)
		}
	}
	switch raw[0] {
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			for _, item := range items {
				addSplit(item)
			}
		}
	default:
		addSplit(raw)
	}
	return out
}

// isJoinedList reports whether raw is a list holding one comma-separated
// string, the form in which some servers keep tags (["a,b,c"]).
func isJoinedList(raw json.RawMessage) bool {
	var items []string
	return json.Unmarshal(raw, &items) == nil && len(items) == 1 && strings.Contains(items[0], ",")
}

// coordinates names the four extent coordinates in their usual spelling.
var coordinates = [4]string{"xmin", "ymin", "xmax", "ymax"}

// readItemExtent reads an extent: an object with xmin, ymin, xmax and ymax
// (keys in any case, values numbers or numeric strings) or a pair of corners
// [[xmin,ymin],[xmax,ymax]]. Anything else, or an object lacking a
// coordinate, is nil.
func readItemExtent(raw json.RawMessage) *Extent {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	var v [4]float64
	switch raw[0] {
	case '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return nil
		}
		for n, name := range coordinates {
			c, ok := findFold(obj, name)
			if !ok {
				return nil
			}
			if v[n], ok = coordinate(c); !ok {
				return nil
			}
		}
	case '[':
		var corners [][]json.RawMessage
		if json.Unmarshal(raw, &corners) != nil || len(corners) != 2 ||
			len(corners[0]) != 2 || len(corners[1]) != 2 {
			return nil
		}
		for n, c := range [4]json.RawMessage{corners[0][0], corners[0][1], corners[1][0], corners[1][1]} {
			var ok bool
			if v[n], ok = coordinate(c); !ok {
				return nil
			}
		}
	default:
		return nil
	}
	return &Extent{XMin: v[0], YMin: v[1], XMax: v[2], YMax: v[3]}
}

// coordinate reads one extent coordinate: a finite number or numeric
// string. null and "" are not coordinates.
func coordinate(raw json.RawMessage) (float64, bool) {
	s, err := numberText(raw)
	if err != nil || s == "" {
		return 0, false
	}
	var f jsonFloat
	if f.UnmarshalJSON(raw) != nil {
		return 0, false
	}
	return float64(f), true
}

// findFold returns the value of the first key of obj (in byte order) equal
// to name without regard to ASCII case.
func findFold(obj map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := obj[name]; ok {
		return v, true
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if asciiLower(k) == name {
			return obj[k], true
		}
	}
	return nil, false
}

// MarshalJSON encodes the item info: Raw, with the typed fields written over
// it as described on ItemInfo.
func (i ItemInfo) MarshalJSON() ([]byte, error) {
	raw := i.Raw()
	w := itemWriter{raw: raw, out: maps.Clone(raw)}
	if w.out == nil {
		w.out = map[string]json.RawMessage{}
	}
	w.text(keyTitle, i.Title)
	w.text(keySummary, i.Summary)
	w.text(keySnippet, i.Snippet)
	w.text(keyDescription, i.Description)
	w.list(keyTags, i.Tags)
	w.list(keyTypeKeywords, i.TypeKeywords)
	w.text(keyCulture, i.Culture)
	w.text(keyGUID, i.GUID)
	w.text(keyAccessInformation, i.AccessInformation)
	w.text(keyLicenseInfo, i.LicenseInfo)
	w.text(keyDocumentation, i.Documentation)
	w.text(keyURL, i.URL)
	w.extent(keyExtent, i.Extent)
	w.text(keySpatialReference, i.SpatialReference)
	w.text(keyThumbnail, i.Thumbnail)
	if w.err != nil {
		return nil, w.err
	}
	return marshalJSON(w.out)
}

// itemWriter writes changed typed fields over a copy of the raw object.
type itemWriter struct {
	raw map[string]json.RawMessage
	out map[string]json.RawMessage
	err error
}

func (w *itemWriter) put(key string, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("%s: %w", key, err)
		}
		return
	}
	w.out[key] = b
}

func (w *itemWriter) text(k itemKey, v string) {
	keys := k.keys(w.raw)
	if len(keys) == 0 {
		if v != "" {
			w.put(k.spelling, v)
		}
		return
	}
	if readItemText(w.raw[keys[0]]) == v {
		return // unchanged: keep what upstream sent
	}
	for _, key := range keys {
		w.put(key, v)
	}
}

func (w *itemWriter) list(k itemKey, v []string) {
	keys := k.keys(w.raw)
	if len(keys) == 0 {
		if len(v) > 0 {
			w.put(k.spelling, v)
		}
		return
	}
	if slices.Equal(readItemList(w.raw[keys[0]]), v) {
		return
	}
	for _, key := range keys {
		switch {
		case isJSONString(w.raw[key]):
			w.put(key, strings.Join(v, ","))
		case isJoinedList(w.raw[key]) && len(v) > 0:
			w.put(key, []string{strings.Join(v, ",")})
		case v == nil:
			w.put(key, []string{})
		default:
			w.put(key, v)
		}
	}
}

func (w *itemWriter) extent(k itemKey, e *Extent) {
	keys := k.keys(w.raw)
	if len(keys) == 0 {
		if e != nil {
			w.put(k.spelling, extentObject(nil, *e))
		}
		return
	}
	old := readItemExtent(w.raw[keys[0]])
	if old == e || old != nil && e != nil && *old == *e {
		return
	}
	for _, key := range keys {
		switch prev := bytes.TrimSpace(w.raw[key]); {
		case e == nil:
			delete(w.out, key)
		case len(prev) > 0 && prev[0] == '[':
			w.put(key, [2][2]float64{{e.XMin, e.YMin}, {e.XMax, e.YMax}})
		default:
			var obj map[string]json.RawMessage
			_ = json.Unmarshal(prev, &obj) // nil unless prev is an object
			w.put(key, extentObject(obj, *e))
		}
	}
}

// extentObject returns the object form of e written over prev (an extent
// object upstream sent, or nil): each coordinate is written under every key
// spelling prev used for it, as a string where prev held a string; a
// coordinate prev lacked is written as a number under its lower-case name.
// Other keys of prev are kept.
func extentObject(prev map[string]json.RawMessage, e Extent) map[string]json.RawMessage {
	out := maps.Clone(prev)
	if out == nil {
		out = make(map[string]json.RawMessage, 4)
	}
	for n, v := range [4]float64{e.XMin, e.YMin, e.XMax, e.YMax} {
		num, _ := json.Marshal(v) // finite: the caller validated it
		str, _ := json.Marshal(string(num))
		written := false
		for k, old := range prev {
			if asciiLower(k) != coordinates[n] {
				continue
			}
			out[k], written = num, true
			if isJSONString(old) {
				out[k] = str
			}
		}
		if !written {
			out[coordinates[n]] = num
		}
	}
	return out
}

// marshalJSON encodes v without escaping <, > and & (item info text often
// holds HTML, which upstream stores as sent).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Get returns a service's item info.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/iteminfo/
//
//upstream:operation GET services/{folder}/{service}.{type}/iteminfo
func (s *ItemInfoService) Get(ctx context.Context, ref ServiceRef) (*ItemInfo, error) {
	const op = "iteminfo.get"
	if err := ref.check(op); err != nil {
		return nil, err
	}
	var info ItemInfo
	if err := s.client.get(ctx, op, ref.pathWith("/iteminfo"), nil, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Edit replaces a service's item info with info, sent as the JSON form field
// "serviceItemInfo" (including the keys info.Raw returns). Without a
// thumbnail the body is url-encoded; with one it is multipart/form-data
// with the image in the file field "thumbnail" (the current docs' name; the
// 10.1 docs say "thumbnailFile", docs/upstream.md#item-info-edits), and the
// item info's thumbnail path is set to "thumbnail/<thumb.Name>" so that it
// names the uploaded file. info itself is not modified.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/edititeminfo/
//
//upstream:operation POST services/{folder}/{service}.{type}/iteminfo/edit
func (s *ItemInfoService) Edit(ctx context.Context, ref ServiceRef, info *ItemInfo, thumb *Thumbnail) error {
	const op = "iteminfo.edit"
	if err := ref.check(op); err != nil {
		return err
	}
	if info == nil {
		return invalid(op, "item info is nil")
	}
	r := &request{op: op, method: http.MethodPost, path: ref.Path() + "/iteminfo/edit"}
	if thumb != nil {
		if msg := checkFileName(thumb.Name); msg != "" {
			return invalid(op, msg)
		}
		if len(thumb.Data) == 0 {
			return invalid(op, "thumbnail is empty")
		}
		withThumb := *info
		withThumb.Thumbnail = "thumbnail/" + thumb.Name
		info = &withThumb
		r.files = []formFile{{field: "thumbnail", name: thumb.Name, contentType: thumb.ContentType, data: thumb.Data}}
	}
	b, err := marshalJSON(info)
	if err != nil {
		e := invalid(op, "item info cannot be encoded")
		e.Err = err
		return e
	}
	r.form = url.Values{"serviceItemInfo": {string(b)}}
	return s.client.do(ctx, r, nil)
}

// Thumbnail returns the file at path, relative to the service's item info
// (the item info's Thumbnail, e.g. "thumbnail/image.jpg"), fetched from
// ".../iteminfo/<path>". path must pass CheckThumbnailPath.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/iteminfo/
//
//upstream:operation GET services/{folder}/{service}.{type}/iteminfo/{path}
func (s *ItemInfoService) Thumbnail(ctx context.Context, ref ServiceRef, path string) (*Thumbnail, error) {
	const op = "iteminfo.thumbnail"
	if err := ref.check(op); err != nil {
		return nil, err
	}
	if err := CheckThumbnailPath(path); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Op = op
		}
		return nil, err
	}
	segs := strings.Split(path, "/")
	escaped := make([]string, len(segs))
	for n, seg := range segs {
		escaped[n] = url.PathEscape(seg)
	}
	contentType, data, err := s.client.doFile(ctx, &request{op: op, method: http.MethodGet, path: ref.Path() + "/iteminfo/" + strings.Join(escaped, "/")})
	if err != nil {
		return nil, err
	}
	return &Thumbnail{Name: segs[len(segs)-1], ContentType: contentType, Data: data}, nil
}

// maxThumbnailPathLen bounds a thumbnail path.
const maxThumbnailPathLen = 1024

// CheckThumbnailPath returns nil when p is a plain relative path that
// Thumbnail may follow, else an *Error of Kind KindInvalid saying why: p
// must not be empty or longer than 1024 bytes, must not start with "/",
// must not hold a backslash, colon, "?", "#" or control character, and
// must not have empty, "." or ".." segments.
func CheckThumbnailPath(p string) error {
	const op = "iteminfo.checkThumbnailPath"
	switch {
	case p == "":
		return invalid(op, "thumbnail path is empty")
	case len(p) > maxThumbnailPathLen:
		return invalid(op, fmt.Sprintf("thumbnail path is longer than %d bytes", maxThumbnailPathLen))
	case strings.HasPrefix(p, "/"):
		return invalid(op, "thumbnail path is absolute")
	}
	for _, c := range []byte(p) {
		if c < 0x20 || c == 0x7f || strings.IndexByte(`\:?#`, c) >= 0 {
			return invalid(op, fmt.Sprintf("thumbnail path contains %q", rune(c)))
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if msg := checkSegment("thumbnail path segment", seg); msg != "" {
			return invalid(op, msg)
		}
	}
	return nil
}

// checkFileName reports why name cannot be an uploaded file's name, or ""
// if it can: 1 to 255 ASCII letters, digits, '.', '_' or '-', not "." or
// "..".
func checkFileName(name string) string {
	if msg := checkSegment("thumbnail file name", name); msg != "" {
		return msg
	}
	if len(name) > 255 {
		return "thumbnail file name is longer than 255 bytes"
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Sprintf("thumbnail file name contains %q", rune(c))
		}
	}
	return ""
}

// This part is transport support used by wire.send: file parts of a
// multipart POST, and responses that are files rather than JSON.

// formFile is a file part of a multipart/form-data POST.
type formFile struct {
	field       string // form field name, e.g. "thumbnail"
	name        string // file name sent in Content-Disposition
	contentType string // "" sends application/octet-stream
	data        []byte
}

// encodeMultipart builds a multipart/form-data body holding params (in key
// order) and then files, and returns it with its Content-Type.
func encodeMultipart(params url.Values, files []formFile) (*bytes.Buffer, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[k] {
			if err := mw.WriteField(k, v); err != nil {
				return nil, "", err
			}
		}
	}
	for _, f := range files {
		disposition := mime.FormatMediaType("form-data", map[string]string{"name": f.field, "filename": f.name})
		if disposition == "" {
			return nil, "", fmt.Errorf("file part %q cannot be described", f.field)
		}
		ct := f.contentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", disposition)
		h.Set("Content-Type", ct)
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := pw.Write(f.data); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return &buf, mw.FormDataContentType(), nil
}

// decodeFile checks a response expected to be a file (doFile): an error
// envelope is an error whatever the status, a non-2xx status is KindHTTP,
// and an empty body, other JSON or an HTML page (a login page, the html
// format) is KindDecode.
func decodeFile(status int, contentType string, body []byte) *Error {
	trimmed := bytes.TrimSpace(body)
	var obj map[string]json.RawMessage
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &obj) == nil && obj != nil {
		if e := envelopeError(status, obj); e != nil {
			return e
		}
	}
	if status < 200 || status > 299 {
		return &Error{Kind: KindHTTP, HTTPStatus: status}
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case len(body) == 0:
		return &Error{Kind: KindDecode, HTTPStatus: status, Err: errors.New("empty body where a file was expected")}
	case mt == "text/html" || obj != nil || json.Valid(trimmed) && (trimmed[0] == '[' || trimmed[0] == '"'):
		return &Error{Kind: KindDecode, HTTPStatus: status,
			Err: fmt.Errorf("expected a file, got %d bytes of %q", len(body), contentType)}
	}
	return nil
}

package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
)

// This file simulates the item info of services
// (docs/upstream.md#item-info):
//
//	GET  .../<service>/iteminfo                  the item info JSON, exactly as last written
//	POST .../<service>/iteminfo/edit             serviceItemInfo (or iteminfo) = the new JSON,
//	                                             url-encoded or multipart with a thumbnail file
//	                                             in "thumbnail" (or "thumbnailFile")
//	GET  .../<service>/iteminfo/thumbnail/<file> an uploaded or seeded image
//
// Item info is stored as the client wrote it (key case, key order, number
// spelling), and replaced as a whole by edit, so a client that reads keys
// case-insensitively and writes back what it did not change is exercised.
// Three services are seeded with the three recorded item info variants of
// docs/upstream.md#recorded-payloads; every other service gets a default
// document on first use.
//
// Item info lives on its service, so that it dies with it (a service deleted
// and created again starts over); the item info store's lock guards it.

// Invented item info messages (no recorded texts).
const (
	// msgThumbnailName is INVENTED: an uploaded thumbnail whose file name is
	// empty or holds characters other than letters, digits, '.', '_', '-'
	// and spaces (code 400).
	msgThumbnailName = "The thumbnail file name is not valid."
)

// itemFile is a file below a service's iteminfo directory.
type itemFile struct {
	contentType string
	data        []byte // never mutated once stored
}

// itemInfoEntry is the item info of one service.
type itemInfoEntry struct {
	raw   []byte              // compact JSON as last written; replaced, never mutated
	files map[string]itemFile // key: path below iteminfo, e.g. "thumbnail/thumbnail.png"
}

// itemInfoStore guards the item info of one Server's services (the
// service.itemInfo fields).
type itemInfoStore struct {
	mu sync.Mutex
}

// itemInfoStore returns the item info store of s.
func (s *Server) itemInfoStore() *itemInfoStore { return &s.itemInfo }

// itemInfoSubject is what the item info handlers need to know of a service.
type itemInfoSubject struct {
	svc         *service
	folderKey   string // lower-case folder name, "" for root
	name, typ   string // stored case
	description string
}

// entry returns the item info of svc, seeding it on first use. The caller
// holds st.mu.
func (st *itemInfoStore) entry(subj itemInfoSubject) *itemInfoEntry {
	if e := subj.svc.itemInfo; e != nil {
		return e
	}
	e := seedItemInfo(subj)
	subj.svc.itemInfo = e
	return e
}

// serveItemInfo dispatches .../<service>/iteminfo[/...].
func (s *Server) serveItemInfo(c *call, ref serviceRef, rest []string) {
	s.mu.RLock()
	_, svc := s.lookup(ref)
	var subj itemInfoSubject
	if svc != nil {
		subj = itemInfoSubject{svc: svc, folderKey: ref.folderKey, name: svc.name, typ: svc.typ, description: svc.description}
	}
	s.mu.RUnlock()
	if svc == nil {
		c.notFound(ref.seg)
		return
	}
	st := s.itemInfoStore()
	switch {
	case len(rest) == 0:
		st.mu.Lock()
		raw := st.entry(subj).raw
		st.mu.Unlock()
		c.writeBody(raw)
	case rest[0] == "edit" && len(rest) == 1:
		if c.requirePOST() {
			s.editItemInfo(c, st, subj, ref)
		}
	case rest[0] == "thumbnail" && len(rest) > 1:
		path := strings.Join(rest, "/")
		st.mu.Lock()
		f, ok := st.entry(subj).files[path]
		st.mu.Unlock()
		if !ok {
			c.notFound(rest[len(rest)-1])
			return
		}
		writeRaw(c.w, http.StatusOK, f.contentType, f.data)
	default:
		c.notFound(rest[len(rest)-1])
	}
}

// editItemInfo implements POST .../iteminfo/edit: the serviceItemInfo
// parameter (the docs' table calls it iteminfo, which is accepted too)
// replaces the item info as sent; a multipart file in "thumbnail" (current
// docs) or "thumbnailFile" (10.1 docs) is stored as thumbnail/<file name>.
// The item info's thumbnail key is not touched: the client names the file
// there. The success answer is INVENTED (docs/upstream.md#item-info-edits
// leaves it open).
func (s *Server) editItemInfo(c *call, st *itemInfoStore, subj itemInfoSubject, ref serviceRef) {
	name := "serviceItemInfo"
	if !c.hasParam(name) && c.hasParam("iteminfo") {
		name = "iteminfo"
	}
	raw, ok := decodeItemInfoParam(c, c.param(name))
	if !ok {
		return
	}
	var thumb *multipart.FileHeader
	if mf := c.r.MultipartForm; mf != nil {
		for _, field := range []string{"thumbnail", "thumbnailFile"} {
			if fhs := mf.File[field]; len(fhs) > 0 {
				thumb = fhs[0]
				break
			}
		}
	}
	var (
		fileName string
		file     itemFile
	)
	if thumb != nil {
		fileName = thumb.Filename
		if !validFileName(fileName) {
			c.fail(400, msgThumbnailName)
			return
		}
		data, err := readFileHeader(thumb)
		if err != nil {
			c.fail(500, msgNPE)
			return
		}
		ct := thumb.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "image/") {
			ct = http.DetectContentType(data)
		}
		file = itemFile{contentType: ct, data: data}
	}
	st.mu.Lock()
	e := st.entry(subj)
	e.raw = raw
	if thumb != nil {
		e.files["thumbnail/"+fileName] = file
	}
	st.mu.Unlock()
	s.logEvent("simulator: item info of %q edited", ref.seg)
	c.success()
}

// readFileHeader reads an uploaded file (already within MaxBodyBytes).
func readFileHeader(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return io.ReadAll(f)
}

// validFileName reports whether name can be an uploaded file's name: 1 to
// 255 ASCII letters, digits, '.', '_', '-' or spaces, not "." or "..".
// (multipart already reduced it to its base name.)
func validFileName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("._- ", b) >= 0) {
			return false
		}
	}
	return true
}

// decodeItemInfoParam checks that text is one JSON object and returns it
// compacted (keys, their case and order, and number spellings kept). On
// failure it writes the Java-style code 500 envelope a real server leaks,
// as decodeServiceParam does for service JSON.
func decodeItemInfoParam(c *call, text string) ([]byte, bool) {
	text = strings.TrimSpace(text)
	if text == "" {
		c.fail(500, msgNPE)
		return nil, false
	}
	if text[0] != '{' {
		c.fail(500, msgJSONObjectStart)
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(text))
	var raw json.RawMessage
	err := dec.Decode(&raw)
	if err == nil {
		if _, tail := dec.Token(); !errors.Is(tail, io.EOF) {
			err = &json.SyntaxError{Offset: dec.InputOffset()}
		}
	}
	if err != nil {
		var syn *json.SyntaxError
		offset := dec.InputOffset()
		if errors.As(err, &syn) {
			offset = syn.Offset
		}
		c.fail(500, msgJSONSyntax(offset+1))
		return nil, false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		c.fail(500, msgJSONSyntax(1))
		return nil, false
	}
	return buf.Bytes(), true
}

// Recorded item info variants (docs/upstream.md#recorded-payloads), seeded
// so that a client meets each shape.
const (
	// itemInfo101 is the OLD:editIteminfo 10.1 example: "Culture" and "Text"
	// capitalised, string tags, object extent of numbers, lower-case keys.
	itemInfo101 = `{
  "Culture": "en-US", "name": "usa", "thumbnail": "thumbnail/image.jpg",
  "guid": "FD09F5FF-4031-49D4-8BD3-B310728C8FF7", "catalogpath": "", "snippet": "", "description": "",
  "summary": "", "title": "usa.mxd", "tags": "", "type": "Service Definition", "Text": "",
  "typekeywords": ["Shapefile Feature Class", "ArcGIS", "Service Definition", ".sd"],
  "documentation": "", "url": "", "datalastmodifiedtime": "",
  "extent": {"xmin": -178.217598362366, "ymin": 18.9247817993163, "xmax": -66.9692710360024, "ymax": 71.4071353542713},
  "spatialreference": "Unknown", "accessinformation": "", "licenseinfo": ""
}`
	// itemInfoDoc is the D:edititeminfo current example: camelCase keys,
	// array tags, extent as corner pairs, minScale/maxScale. As published
	// its extent lacks the comma between the corners (invalid JSON, which a
	// real server's JSON library would refuse on edit); it is restored here.
	// The truncated last key is kept as recorded
	// (docs/upstream.md#recorded-payloads).
	itemInfoDoc = `{"culture": "en-US", "name": "testService", "guid": "FD09F5FF-4031-49D4-88D3-B310728C8FF7", "catalogPath": "",
 "snippet": "Test service", "description": "A test service", "summary": "Test service", "title": "Test Map Service",
 "tags": ["Map Service"], "type": "Map Service", "typeKeywords": ["Data", "Service", "Map Service", "ArcGIS Server"],
 "thumbnail": "thumbnail/thumbnail.png", "url": "",
 "extent": [[-178.217598362366, 18.9247817993162], [-66.9692710360024, 71.4071353542713]],
 "minScale": 0, "maxScale": 1.7976931348623157E308, "spatialReference": "WGS_1984_Web_Mercator_Auxiliary_Sphere", "acc...": "(truncated in source)"}`
	// itemInfoDirectory is the REST services-directory variant: "Summary"
	// capitalised, string-valued extent.
	itemInfoDirectory = `{"culture": "en-US", "name": "sanfrancisco_museums", "guid": "2D4D1E57-3613-4288-9221-90C97FB2803B", "catalogpath": "",
 "snippet": "Sample Map containing San Francisco Museum data", "description": "Sample Map containing point of interests in San Francisco (museums)",
 "Summary": "Sample Map containing San Francisco Museum data", "title": "Clustering", "tags": ["San Francisco"], "type": "Map Service",
 "typekeywords": ["Map Service", "ArcGIS Server"], "thumbnail": "thumbnail/thumbnail.png", "url": "http://server/arcgis/services/sanfrancisco_museums/",
 "extent": {"xmin": "-122.515048", "ymin": "37.632528", "xmax": "-122.293731", "ymax": "37.863433"},
 "spatialreference": "GCS_WGS_1984", "accessinformation": "esri", "licenseinfo": "This is a test service."}`
)

// seededItemInfo maps "<folder key>/<service key>" to the recorded variant
// it starts with and whether its thumbnail file is present. Maps/Parcels
// names thumbnail/image.jpg but has no such file, like a service whose
// thumbnail was never uploaded.
var seededItemInfo = map[string]struct {
	json      string
	thumbnail bool
}{
	"/" + serviceKey("SampleWorldCities", "MapServer"): {itemInfoDoc, true},
	"maps/" + serviceKey("Parcels", "MapServer"):       {itemInfo101, false},
	"maps/" + serviceKey("Roads", "MapServer"):         {itemInfoDirectory, true},
}

// seedItemInfo returns the item info a service starts with: its recorded
// variant, or a default document in the current docs' spelling naming no
// thumbnail.
func seedItemInfo(subj itemInfoSubject) *itemInfoEntry {
	e := &itemInfoEntry{files: map[string]itemFile{}}
	if seed, ok := seededItemInfo[subj.folderKey+"/"+serviceKey(subj.name, subj.typ)]; ok {
		var buf bytes.Buffer
		_ = json.Compact(&buf, []byte(seed.json)) // constant, valid
		e.raw = buf.Bytes()
		if seed.thumbnail {
			e.files["thumbnail/thumbnail.png"] = itemFile{contentType: "image/png", data: seedThumbnail()}
		}
		return e
	}
	display := subj.typ
	if t := serviceTypeByName[subj.typ]; t != nil {
		display = t.DisplayName
	}
	e.raw = mustJSON(defaultItemInfo{
		Culture: "en-US", Name: subj.name, GUID: itemGUID(subj), Title: subj.name,
		Description: subj.description, Tags: []string{}, Type: display,
		TypeKeywords: []string{"ArcGIS Server", display},
	})
	return e
}

// defaultItemInfo is the item info of a service without a recorded
// variant. Its content is INVENTED, in the current docs' key spelling.
type defaultItemInfo struct {
	Culture           string   `json:"culture"`
	Name              string   `json:"name"`
	GUID              string   `json:"guid"`
	CatalogPath       string   `json:"catalogPath"`
	Snippet           string   `json:"snippet"`
	Description       string   `json:"description"`
	Summary           string   `json:"summary"`
	Title             string   `json:"title"`
	Tags              []string `json:"tags"`
	Type              string   `json:"type"`
	TypeKeywords      []string `json:"typeKeywords"`
	Thumbnail         string   `json:"thumbnail"`
	URL               string   `json:"url"`
	SpatialReference  string   `json:"spatialReference"`
	AccessInformation string   `json:"accessInformation"`
	LicenseInfo       string   `json:"licenseInfo"`
}

// itemGUID derives a stable upper-case GUID for a service's item.
func itemGUID(subj itemInfoSubject) string {
	const hex = "0123456789ABCDEF"
	id := stableID("item", subj.folderKey, serviceKey(subj.name, subj.typ))
	out := make([]byte, 0, 36)
	for i := 0; len(out) < 36; i++ {
		if len(out) == 8 || len(out) == 13 || len(out) == 18 || len(out) == 23 {
			out = append(out, '-')
			continue
		}
		out = append(out, hex[int(id[i%len(id)])%16])
	}
	return string(out)
}

// seedThumbnail returns the seeded thumbnail: a small valid PNG.
var seedThumbnail = sync.OnceValue(func() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for x := 0; x < 4; x++ {
		for y := 0; y < 4; y++ {
			img.Set(x, y, color.NRGBA{R: uint8(60 * x), G: uint8(60 * y), B: 160, A: 255})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img) // in-memory: cannot fail
	return buf.Bytes()
})

package upstream

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// This file holds the one-pass decoder of item info, the answer of every
// GetItemInfo call. It walks the bytes with the folder listing's scanner
// (listingScan, listingdecode.go) and takes every plain string as a slice
// of one copy of the body; a value in a form it does not read itself goes
// to the same reader (readItemText, readItemList, readItemExtent) that
// ItemInfo's encoding/json path uses, so only the common forms are
// shortcuts.

// itemFields lists the modelled keys in the order decodeItemInfoFast
// numbers them.
var itemFields = [...]itemKey{
	keyTitle, keySummary, keySnippet, keyDescription, keyTags, keyTypeKeywords, keyCulture, keyGUID,
	keyAccessInformation, keyLicenseInfo, keyDocumentation, keyURL, keyExtent, keySpatialReference, keyThumbnail,
}

// decodeItemInfoFast decodes item info from b the way UnmarshalJSON's
// key-by-key rule does, checking in the same pass that b is JSON
// (jsonscan.go). It reports false for anything that is not JSON, where
// that rule needs more than one look at a key (a modelled key arriving
// twice, in any spelling, or an escaped key) and for anything but an
// object. The caller
// then decodes b the encoding/json way, so both give the same item info or
// error. Keys are compared in ASCII, so a key spelled with a non-ASCII
// letter is not a modelled key, as in decodeByKey.
func decodeItemInfoFast(b []byte) (ItemInfo, bool) {
	info, ok, _ := scanItemInfo(b)
	return info, ok
}

// scanItemInfo is decodeItemInfoFast, also reporting whether b has a
// top-level key that may make it an error envelope (listingScan.topKey).
func scanItemInfo(b []byte) (_ ItemInfo, ok, envelope bool) {
	d := listingScan{b: b, s: string(b)}
	var info ItemInfo
	var seen [len(itemFields)]bool
	ok = d.object(func(key string) bool {
		d.topKey(key)
		n := itemFieldIndex(key)
		if n < 0 {
			return d.other(key, nil)
		}
		if seen[n] {
			return false
		}
		seen[n] = true
		start := d.i
		end := validValue(d.b, start)
		if end < 0 {
			return false
		}
		switch n {
		case 0:
			info.Title = d.itemText(start, end)
		case 1:
			info.Summary = d.itemText(start, end)
		case 2:
			info.Snippet = d.itemText(start, end)
		case 3:
			info.Description = d.itemText(start, end)
		case 4:
			info.Tags = d.itemList(start, end)
		case 5:
			info.TypeKeywords = d.itemList(start, end)
		case 6:
			info.Culture = d.itemText(start, end)
		case 7:
			info.GUID = d.itemText(start, end)
		case 8:
			info.AccessInformation = d.itemText(start, end)
		case 9:
			info.LicenseInfo = d.itemText(start, end)
		case 10:
			info.Documentation = d.itemText(start, end)
		case 11:
			info.URL = d.itemText(start, end)
		case 12:
			info.Extent = d.itemExtent(start, end)
		case 13:
			info.SpatialReference = d.itemText(start, end)
		case 14:
			info.Thumbnail = d.itemText(start, end)
		}
		d.i = end
		return true
	})
	if !ok || d.end() != len(b) {
		return ItemInfo{}, false, false
	}
	info.src = bytes.Clone(b)
	info.received = digestOf(info.src)
	return info, true, d.envelope
}

// itemFieldIndex returns the index in itemFields of the key that key
// spells without regard to ASCII case, or -1.
func itemFieldIndex(key string) int {
	for n, k := range itemFields {
		if len(key) == len(k.lower) && asciiEqualLower(key, k.lower) {
			return n
		}
	}
	return -1
}

// asciiEqualLower reports whether s, lowered in ASCII, is lower (which is
// in lower case and as long as s).
func asciiEqualLower(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// plainAt returns the inside of the value d.s[start:end] if it is a
// string that decodes to itself.
func (d *listingScan) plainAt(start, end int) (string, bool) {
	raw := d.s[start:end]
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && plainText(raw[1:len(raw)-1]) {
		return raw[1 : len(raw)-1], true
	}
	return "", false
}

// itemText reads the value d.b[start:end] as readItemText does.
func (d *listingScan) itemText(start, end int) string {
	if s, ok := d.plainAt(start, end); ok {
		return s
	}
	return readItemText(d.b[start:end])
}

// itemList reads the value d.b[start:end] as readItemList does: a plain
// string or a list of plain strings here, anything else by readItemList.
func (d *listingScan) itemList(start, end int) []string {
	if s, ok := d.plainAt(start, end); ok {
		return splitItems(nil, s)
	}
	if d.b[start] == '[' {
		var out []string
		d.i = start
		ok, _ := d.array(func() bool {
			e := d.i
			if d.i >= len(d.b) || d.b[e] != '"' {
				return false
			}
			ee, escaped := scanString(d.b, e)
			if ee < 0 || escaped {
				return false
			}
			s, ok := d.plainAt(e, ee)
			if !ok {
				return false
			}
			out = splitItems(out, s)
			d.i = ee
			return true
		})
		if ok {
			return out
		}
	}
	return readItemList(d.b[start:end])
}

// splitItems appends the comma-separated parts of s, trimmed, to out,
// dropping empty ones (readItemList's rule for one string).
func splitItems(out []string, s string) []string {
	for {
		part, rest, found := strings.Cut(s, ",")
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
		if !found {
			return out
		}
		s = rest
	}
}

// itemExtent reads the value d.b[start:end] as readItemExtent does: an
// object holding each coordinate once as a number or numeric string, or
// corner pairs of such, here; anything else by readItemExtent.
func (d *listingScan) itemExtent(start, end int) *Extent {
	var v [4]float64
	ok := false
	d.i = start
	switch d.b[start] {
	case '{':
		var got [4]bool
		ok = d.object(func(key string) bool {
			n := -1
			for c, name := range coordinates {
				if len(key) == len(name) && asciiEqualLower(key, name) {
					n = c
				}
			}
			if n < 0 {
				return d.other(key, nil)
			}
			if got[n] {
				return false
			}
			got[n] = true
			return d.number(&v[n])
		}) && got == [4]bool{true, true, true, true}
	case '[':
		n := 0
		ok, _ = d.array(func() bool {
			if n >= 4 {
				return false
			}
			pair := n
			ok, null := d.array(func() bool {
				if n >= pair+2 {
					return false
				}
				n++
				return d.number(&v[n-1])
			})
			return ok && !null && n == pair+2
		})
		ok = ok && n == 4
	}
	if !ok {
		return readItemExtent(d.b[start:end])
	}
	return &Extent{XMin: v[0], YMin: v[1], XMax: v[2], YMax: v[3]}
}

// number reads a coordinate at d.i into dst as coordinate does: a JSON
// number, or a plain string holding one (spaces around it trimmed). It
// reports false for anything else (null, "", an escaped string, a number
// out of range), which coordinate rejects or readItemExtent reads.
func (d *listingScan) number(dst *float64) bool {
	if d.i >= len(d.b) {
		return false
	}
	end := validValue(d.b, d.i)
	if end < 0 {
		return false
	}
	text := strings.TrimRight(d.s[d.i:end], " \t\r\n")
	switch c := d.b[d.i]; {
	case c == '"':
		s, ok := d.plainAt(d.i, d.i+len(text))
		if !ok {
			return false
		}
		text = strings.TrimSpace(s)
	case c != '-' && (c < '0' || c > '9'):
		return false
	}
	if text == "" {
		return false
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return false
	}
	*dst, d.i = f, end
	return true
}

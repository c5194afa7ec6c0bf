package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the tolerant JSON scalar types used to decode upstream
// payloads, whose numbers and booleans sometimes arrive as strings.

// jsonText decodes a JSON string, number, boolean or null as text: numbers
// and booleans keep their literal spelling, null becomes "".
type jsonText string

// UnmarshalJSON implements json.Unmarshaler.
func (t *jsonText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return errors.New("empty JSON value")
	}
	switch c := b[0]; {
	case c == '"':
		if s, ok := plainString(b); ok {
			*t = jsonText(s)
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = jsonText(s)
	case c == 'n':
		*t = ""
	case c == 't' || c == 'f' || c == '-' || ('0' <= c && c <= '9'):
		*t = jsonText(b)
	default:
		return fmt.Errorf("expected a string, found %s", kindOfJSON(b))
	}
	return nil
}

// anyText decodes like jsonText but also accepts objects and arrays, which
// become their compact JSON text. It is used for property maps whose values
// are documented as strings.
type anyText string

// UnmarshalJSON implements json.Unmarshaler.
func (t *anyText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		*t = anyText(compactJSON(b))
		return nil
	}
	var s jsonText
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = anyText(s)
	return nil
}

// jsonInt decodes an integer sent as a JSON number or a numeric string
// ("60", "6e1", "60.0"); null and "" become 0. Fractional values are errors.
type jsonInt int

// UnmarshalJSON implements json.Unmarshaler.
func (n *jsonInt) UnmarshalJSON(b []byte) error {
	s, err := numberText(b)
	if err != nil {
		return err
	}
	if s == "" {
		*n = 0
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, strconv.IntSize); err == nil {
		*n = jsonInt(i)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("invalid integer %q", s)
	}
	if f != math.Trunc(f) || f < math.MinInt || f >= math.MaxInt {
		return fmt.Errorf("invalid integer %q", s)
	}
	*n = jsonInt(f)
	return nil
}

// jsonFloat decodes a JSON number or a numeric string; null and "" become 0.
type jsonFloat float64

// UnmarshalJSON implements json.Unmarshaler.
func (n *jsonFloat) UnmarshalJSON(b []byte) error {
	s, err := numberText(b)
	if err != nil {
		return err
	}
	if s == "" {
		*n = 0
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("invalid number %q", s)
	}
	*n = jsonFloat(f)
	return nil
}

// numberText returns the text of a JSON number or string holding a number,
// "" for null or an empty string.
func numberText(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", errors.New("empty JSON value")
	}
	switch c := b[0]; {
	case c == 'n':
		return "", nil
	case c == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", err
		}
		return strings.TrimSpace(s), nil
	case c == '-' || ('0' <= c && c <= '9'):
		return string(b), nil
	default:
		return "", fmt.Errorf("expected a number, found %s", kindOfJSON(b))
	}
}

// jsonBool decodes a JSON boolean, the strings "true"/"false" (any case),
// 0/1 as numbers or strings, null and "" (false).
type jsonBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *jsonBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	if len(b) > 0 && b[0] == '"' {
		var ok bool
		if s, ok = plainString(b); !ok {
			if err := json.Unmarshal(b, &s); err != nil {
				return err
			}
		}
		s = strings.TrimSpace(s)
	} else {
		s = string(b)
	}
	switch strings.ToLower(s) {
	case "true", "1":
		*v = true
	case "false", "0", "", "null":
		*v = false
	default:
		return fmt.Errorf("invalid boolean %q", truncate(s, 32))
	}
	return nil
}

// kindOfJSON names the kind of a JSON value for error messages.
func kindOfJSON(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// compactJSON returns raw without insignificant white space (raw itself
// if it cannot be compacted).
func compactJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return unescapeMarshalEscapes(buf.Bytes())
}

// unescapeMarshalEscapes returns the compact JSON b with the escapes
// json.Marshal adds on its own (\u0026, \u003c, \u003e for HTML, \u2028
// and \u2029) written as the characters they stand for, so that the text
// kept of a value is the same whether or not it went through json.Marshal
// once (a write-back of an item info, for one): ["&"] stays ["&"]. Other
// escapes, and an escaped backslash followed by "u0026", are kept as sent.
func unescapeMarshalEscapes(b []byte) string {
	if !bytes.Contains(b, []byte(`\u`)) {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch strings.ToLower(string(b[i+2 : i+6])) {
			case "0026":
				out, i = append(out, '&'), i+5
				continue
			case "003c":
				out, i = append(out, '<'), i+5
				continue
			case "003e":
				out, i = append(out, '>'), i+5
				continue
			case "2028":
				out, i = append(out, "\u2028"...), i+5
				continue
			case "2029":
				out, i = append(out, "\u2029"...), i+5
				continue
			}
		}
		out = append(out, c, b[i+1]) // any other escape, \\ included, whole
		i++
	}
	return string(out)
}

// truncate shortens s to at most n bytes for use in messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// isJSONString reports whether raw is a JSON string literal.
func isJSONString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

// objectDecoder decodes known keys of a JSON object held as raw values,
// keeping the first error.
type objectDecoder struct {
	raw map[string]json.RawMessage
	err error
}

func (d *objectDecoder) decode(key string, v any) {
	raw, ok := d.raw[key]
	if !ok || d.err != nil {
		return
	}
	if err := json.Unmarshal(raw, v); err != nil {
		d.err = fmt.Errorf("%s: %w", key, err)
	}
}

func (d *objectDecoder) text(key string, dst *string) {
	var t jsonText
	d.decode(key, &t)
	*dst = string(t)
}

// decodeProps decodes a property object whose values should be strings;
// other scalars become their text, null becomes "".
func decodeProps(raw json.RawMessage) (map[string]string, error) {
	var m map[string]anyText
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return textMap(m), nil
}

// objectEncoder writes typed fields over a copy of the raw object they were
// decoded from. A field whose value is unchanged since decoding is written
// back exactly as received; a changed field is written in canonical form; a
// field that was absent and is still the zero value is left out.
type objectEncoder struct {
	raw map[string]json.RawMessage
	out map[string]json.RawMessage
	err error
}

func newObjectEncoder(raw map[string]json.RawMessage) *objectEncoder {
	out := make(map[string]json.RawMessage, len(raw)+8)
	for k, v := range raw {
		out[k] = v
	}
	return &objectEncoder{raw: raw, out: out}
}

// lookup finds a modelled key in the received object: spelled exactly, or
// else in another letter case (the decoder matches keys without regard to
// case), whose spelling is then kept (the first in byte order, if several).
// The output keeps that one spelling: other spellings of the key, which the
// decoder read over, are dropped, so that the upstream never sees a key
// twice with different values.
func (e *objectEncoder) lookup(key string) (spelling string, old json.RawMessage, had bool) {
	spelling = key
	_, exact := e.raw[key]
	for k := range e.raw {
		if k != key && strings.EqualFold(k, key) {
			if !exact && (spelling == key || k < spelling) {
				spelling = k
			}
			delete(e.out, k)
		}
	}
	old, had = e.raw[spelling]
	if had {
		e.out[spelling] = old
	}
	return spelling, old, had
}

// drop removes key, in every letter case, from the output.
func (e *objectEncoder) drop(key string) {
	for k := range e.out {
		if strings.EqualFold(k, key) {
			delete(e.out, k)
		}
	}
}

// sourceOf keeps a copy of b, an object as received, for Raw; nil for null.
func sourceOf(b []byte) json.RawMessage {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil
	}
	return bytes.Clone(b)
}

// rawObject decodes a JSON object kept as received into its keys; nil for
// no object.
func rawObject(src json.RawMessage) map[string]json.RawMessage {
	if src == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(src, &m) != nil {
		return nil
	}
	return m
}

// textMap converts a decoded property object to plain strings.
func textMap(m map[string]anyText) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func (e *objectEncoder) put(key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		if e.err == nil {
			e.err = fmt.Errorf("%s: %w", key, err)
		}
		return
	}
	e.out[key] = b
}

func (e *objectEncoder) text(key, v string) {
	key, old, had := e.lookup(key)
	if !had {
		if v != "" {
			e.put(key, v)
		}
		return
	}
	var t jsonText
	if json.Unmarshal(old, &t) == nil && string(t) == v {
		return // unchanged: keep old
	}
	e.put(key, v)
}

func (e *objectEncoder) int(key string, v int) {
	key, old, had := e.lookup(key)
	if !had {
		if v != 0 {
			e.put(key, v)
		}
		return
	}
	var n jsonInt
	if json.Unmarshal(old, &n) == nil && int(n) == v {
		return
	}
	e.put(key, v)
}

// bool writes v; when the received value was a string ("true"/"false") a
// changed value is written as a string too.
func (e *objectEncoder) bool(key string, v bool) {
	key, old, had := e.lookup(key)
	if !had {
		if v {
			e.put(key, v)
		}
		return
	}
	var b jsonBool
	if json.Unmarshal(old, &b) == nil && bool(b) == v {
		return
	}
	if isJSONString(old) {
		e.put(key, strconv.FormatBool(v))
		return
	}
	e.put(key, v)
}

// props writes a string map; entries whose received value was not a string
// but has the same text are written back as received.
func (e *objectEncoder) props(key string, v map[string]string) {
	key, old, had := e.lookup(key)
	if !had && v == nil {
		return
	}
	if v == nil {
		e.out[key] = json.RawMessage("null")
		return
	}
	var oldEntries map[string]json.RawMessage
	if had {
		if m, err := decodeProps(old); err == nil && m != nil && maps.Equal(m, v) {
			return // unchanged: keep the received bytes
		}
		_ = json.Unmarshal(old, &oldEntries)
	}
	obj := make(map[string]json.RawMessage, len(v))
	for k, s := range v {
		if o, ok := oldEntries[k]; ok && !isJSONString(o) {
			var t anyText
			if json.Unmarshal(o, &t) == nil && string(t) == s {
				obj[k] = o
				continue
			}
		}
		b, err := json.Marshal(s)
		if err != nil {
			if e.err == nil {
				e.err = fmt.Errorf("%s: %w", key, err)
			}
			return
		}
		obj[k] = b
	}
	e.put(key, obj)
}

func (e *objectEncoder) marshal() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	return json.Marshal(e.out)
}

// plainString returns the text of a JSON string literal that needs no
// unescaping (no backslash, no control character, valid UTF-8), without a
// second pass of the JSON decoder over bytes it has already validated. ok is
// false for anything else, which then takes the decoder's path.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
			return "", false
		}
	}
	return string(in), true
}

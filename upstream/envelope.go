package upstream

import "bytes"

// mayBeEnvelope reports whether body, read as a JSON object, may have a
// top-level "status" or "error" key: the keys of the two error envelopes.
// It is the fast first look decodeResponse takes at every response. It
// walks the top-level object without validating it and without copying
// anything, skipping nested values by bracket depth and strings by their
// quotes and escapes; the decode that follows validates the body.
//
// It errs on the side of yes: a key spelled with escapes, a key equal to
// "status" or "error" in any letter case (encoding/json matches struct
// fields without regard to case), or a body it cannot walk all answer
// true, and the caller then decodes the object to look. It answers false
// for a body that is not an object, since neither envelope can be there.
func mayBeEnvelope(body []byte) bool {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(body, i)
		if i >= len(body) {
			return true // truncated: let the decoder say what is wrong
		}
		switch body[i] {
		case '}':
			return false
		case ',':
			i++
			continue
		case '"':
		default:
			return true
		}
		// A key.
		end, escaped := stringEnd(body, i)
		if end < 0 {
			return true
		}
		key := body[i+1 : end-1]
		if escaped || bytes.EqualFold(key, []byte("status")) || bytes.EqualFold(key, []byte("error")) {
			return true
		}
		i = skipSpace(body, end)
		if i >= len(body) || body[i] != ':' {
			return true
		}
		if i = skipValue(body, i+1); i < 0 {
			return true
		}
	}
}

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at b[i]
// (a quote) and whether it holds an escape; -1 if it does not end.
func stringEnd(b []byte, i int) (end int, escaped bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// skipValue returns the index just past the JSON value starting at or
// after b[i], or -1 if it does not end. Nested objects and arrays are
// skipped by depth, strings by stringEnd; scalars end at the next
// delimiter.
func skipValue(b []byte, i int) int {
	i = skipSpace(b, i)
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			end, _ := stringEnd(b, i)
			if end < 0 {
				return -1
			}
			i = end
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
		if depth == 0 && i < len(b) {
			// A complete string or container, or a scalar's next byte.
			switch b[i-1] {
			case '"', '}', ']':
				return i
			}
		}
	}
	if depth == 0 {
		return i
	}
	return -1
}

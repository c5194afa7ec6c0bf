package upstream

// This file holds the validating steps of the one-pass decoders
// (listingScan: folder listings, item info, service configurations). They
// check the grammar encoding/json checks (RFC 8259: escapes, control bytes
// in strings, number syntax, literals, separators) on what they walk, so
// that a decoder that takes a whole body has checked it is JSON in the
// same pass, and the separate check (json.Valid, or the one json.Unmarshal
// makes first) can be skipped. Like encoding/json they accept invalid UTF-8
// in strings (it decodes to U+FFFD). Anything they do not accept, the
// decoders hand back to the encoding/json path, which then reports the
// error; so does a value nested deeper than maxScanDepth, whichever way
// encoding/json (which allows 10 000 levels) would see it.

// maxScanDepth bounds the nesting validValue walks.
const maxScanDepth = 512

// strPlain marks the bytes a JSON string may hold as they are: all but
// the quote, the backslash and the control bytes.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString returns the index just past the JSON string starting at b[i]
// (a quote) and whether it holds an escape; -1 if it does not end or is
// not a valid JSON string (a control byte, an unknown escape, a \u
// without four hex digits).
func scanString(b []byte, i int) (end int, escaped bool) {
	j := i + 1
	for {
		for j < len(b) && strPlain[b[j]] {
			j++
		}
		if j >= len(b) {
			return -1, escaped
		}
		switch b[j] {
		case '"':
			return j + 1, escaped
		case '\\':
			escaped = true
			if j+1 >= len(b) {
				return -1, true
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+5 >= len(b) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
					return -1, true
				}
				j += 6
			default:
				return -1, true
			}
		default: // a control byte
			return -1, escaped
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanNumber returns the index just past the JSON number starting at
// b[i], or -1 if there is none there. What follows it is the caller's to
// check (a separator or the end).
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// digits returns the index of the first byte at or after i that is not a
// decimal digit.
func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// scanScalar returns the index just past the number, true, false or null
// at b[i], or -1 if there is none there.
func scanScalar(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	var lit string
	switch b[i] {
	case 't':
		lit = "true"
	case 'f':
		lit = "false"
	case 'n':
		lit = "null"
	default:
		return scanNumber(b, i)
	}
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// validValue returns the index just past the JSON value starting at or
// after b[i] (after spaces), or -1 if there is no valid value there (or
// it nests deeper than maxScanDepth). Spaces after the value are not
// included.
func validValue(b []byte, i int) int {
	return validValueAt(b, skipSpace(b, i), 0)
}

func validValueAt(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{':
		if depth >= maxScanDepth {
			return -1
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return -1
			}
			end, _ := scanString(b, i)
			if end < 0 {
				return -1
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return -1
			}
			if i = validValueAt(b, skipSpace(b, i+1), depth+1); i < 0 {
				return -1
			}
			if i = skipSpace(b, i); i >= len(b) {
				return -1
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case '}':
				return i + 1
			default:
				return -1
			}
		}
	case '[':
		if depth >= maxScanDepth {
			return -1
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		for {
			if i = validValueAt(b, i, depth+1); i < 0 {
				return -1
			}
			if i = skipSpace(b, i); i >= len(b) {
				return -1
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case ']':
				return i + 1
			default:
				return -1
			}
		}
	}
	return scanScalar(b, i)
}

// trimJSONSpace returns b without JSON's spaces (space, tab, CR, LF) at
// either end.
func trimJSONSpace(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t' || b[j-1] == '\n' || b[j-1] == '\r') {
		j--
	}
	return b[i:j]
}

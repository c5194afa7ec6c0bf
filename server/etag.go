package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"

	"google.golang.org/grpc/codes"
)

// Optimistic concurrency (AIP-154). Every mutable resource carries an etag
// computed from its upstream representation, and Update and Delete refuse
// with ABORTED, writing nothing, when the request's etag is not the
// current one. The current etag is computed from the fresh read made under
// the resource's lock (lockResource), so the check and the write are not
// interleaved with another write through arcgate, from any replica. ArcGIS
// has no conditional write: a change made to the site directly (another
// admin tool) between arcgate's read and its write is not detected.
//
// The etag hashes a canonical JSON encoding of the decoded upstream value
// (the upstream types encode every key they received; object keys are
// sorted at every depth), not the response bytes: two reads of an unchanged resource, by one
// replica or by two, give the same etag whatever order upstream sent the
// keys in. Keys the upstream types drop as volatile (none at present) and
// the service's run-time state are not covered, so the etag is weak in the
// sense of RFC 9110: W/"...".

// etagLen is the number of base64url characters kept of the SHA-256: 22
// characters, 132 bits.
const etagLen = 22

// etagOf returns the etag of an upstream value, "" if it cannot be encoded
// (then no etag a client sends matches it).
func etagOf(upstreamValue any) string {
	b, err := json.Marshal(upstreamValue)
	if err != nil {
		return ""
	}
	canon := make([]byte, 0, len(b))
	canon, ok := canonicalJSON(canon, b)
	if !ok {
		return ""
	}
	sum := sha256.Sum256(canon)
	return `W/"` + base64.RawURLEncoding.EncodeToString(sum[:])[:etagLen] + `"`
}

// canonicalJSON appends to dst the JSON value at the start of b (as
// json.Marshal writes it: compact, valid) with the members of every object
// sorted by their encoded keys, and reports whether b held such a value.
// It walks the bytes once; decoding into interface values and encoding
// again, as it replaces, cost more than the rest of a GetService (757
// allocations and ~290 µs per service configuration on the 2-CPU VM).
func canonicalJSON(dst, b []byte) ([]byte, bool) {
	dst, rest, ok := canonicalValue(dst, b)
	return dst, ok && len(rest) == 0
}

// canonicalValue appends the canonical form of the value at the start of b
// and returns the bytes after it.
func canonicalValue(dst, b []byte) ([]byte, []byte, bool) {
	if len(b) == 0 {
		return dst, b, false
	}
	switch b[0] {
	case '{':
		type member struct{ key, val []byte }
		var members []member
		b = b[1:]
		for len(b) > 0 && b[0] != '}' {
			if b[0] == ',' {
				b = b[1:]
			}
			end, ok := stringEnd(b)
			if !ok || end >= len(b) || b[end] != ':' {
				return dst, b, false
			}
			key := b[:end]
			vend, ok := valueEnd(b[end+1:])
			if !ok {
				return dst, b, false
			}
			members = append(members, member{key, b[end+1 : end+1+vend]})
			b = b[end+1+vend:]
		}
		if len(b) == 0 {
			return dst, b, false
		}
		slices.SortFunc(members, func(x, y member) int { return bytes.Compare(x.key, y.key) })
		dst = append(dst, '{')
		for i, m := range members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(append(dst, m.key...), ':')
			var ok bool
			var rest []byte
			if dst, rest, ok = canonicalValue(dst, m.val); !ok || len(rest) != 0 {
				return dst, b, false
			}
		}
		return append(dst, '}'), b[1:], true
	case '[':
		dst = append(dst, '[')
		b = b[1:]
		for first := true; len(b) > 0 && b[0] != ']'; first = false {
			if b[0] == ',' {
				b = b[1:]
			}
			if !first {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, b, ok = canonicalValue(dst, b); !ok {
				return dst, b, false
			}
		}
		if len(b) == 0 {
			return dst, b, false
		}
		return append(dst, ']'), b[1:], true
	}
	end, ok := valueEnd(b)
	if !ok {
		return dst, b, false
	}
	return append(dst, b[:end]...), b[end:], true
}

// stringEnd returns the index just past the JSON string at the start of b.
func stringEnd(b []byte) (int, bool) {
	if len(b) == 0 || b[0] != '"' {
		return 0, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// valueEnd returns the index just past the JSON value at the start of b
// (compact JSON: no white space outside strings).
func valueEnd(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	switch b[0] {
	case '"':
		return stringEnd(b)
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				n, ok := stringEnd(b[i:])
				if !ok {
					return 0, false
				}
				i += n - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	}
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']':
			return i, i > 0
		}
	}
	return len(b), true
}

// checkEtagOf is checkEtag against the etag of upstreamValue, computed
// only when the request sent an etag: an update or delete without one
// pays nothing for it.
func checkEtagOf(given string, upstreamValue any, resource string) error {
	if given == "" {
		return nil
	}
	return checkEtag(given, etagOf(upstreamValue), resource)
}

// checkEtag is nil when the request sent no etag (given == "") or the
// resource's current one; otherwise ABORTED with reason ETAG_MISMATCH and
// the current etag in the ErrorInfo metadata. Call it under the resource's
// lock, after the fresh read and before any write.
func checkEtag(given, current, resource string) error {
	if given == "" || given == current {
		return nil
	}
	return newStatus(codes.Aborted, ReasonEtagMismatch,
		resource+" changed since the etag was read: read it again and retry with its current etag",
		map[string]string{"resource": resource, "currentEtag": current})
}

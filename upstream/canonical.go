package upstream

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"sync"
)

// This file holds the canonical form of received JSON that etags hash
// (server/etag.go): the values that keep the object they were decoded from
// (ServiceConfig, ItemInfo) hash it once, when they are decoded, so that a
// read answer's etag costs no second encoding of the value.

// CanonicalJSON appends to dst the JSON value b in canonical form and
// reports whether b held one JSON value. The canonical form has no
// insignificant white space and the members of every object, at every
// depth, sorted by their keys as encoded (bytewise; a key that arrives
// twice keeps both members, ordered by their values' canonical forms). Strings
// and numbers are kept as written: two encodings of one string ("é" and
// "\u00e9") are two forms, which does not matter to an etag, as every
// replica reads the same bytes from the upstream.
//
// b is meant to be valid JSON (a checked upstream answer, or what
// json.Marshal wrote); CanonicalJSON rejects malformed structure, not
// every malformed scalar.
func CanonicalJSON(dst, b []byte) ([]byte, bool) {
	var c canonicalizer
	return c.append(dst, b)
}

// canonMember is an object member: its key (quoted, as encoded) and its
// value as received, without the white space around it.
type canonMember struct{ key, val []byte }

// canonicalizer holds the members of the objects being written, in one
// stack for all depths (an object's members are at the end while it is
// written; a nested object pushes its own above them and pops them).
type canonicalizer struct {
	stack []canonMember
}

func (c *canonicalizer) append(dst, b []byte) ([]byte, bool) {
	dst, rest, ok := c.value(dst, b)
	return dst, ok && len(canonSkipSpace(rest)) == 0
}

// value appends the canonical form of the value at the start of b (after
// any white space) and returns the bytes after it.
func (c *canonicalizer) value(dst, b []byte) ([]byte, []byte, bool) {
	b = canonSkipSpace(b)
	if len(b) == 0 {
		return dst, b, false
	}
	switch b[0] {
	case '{':
		return c.object(dst, b[1:])
	case '[':
		dst = append(dst, '[')
		b = canonSkipSpace(b[1:])
		if len(b) > 0 && b[0] == ']' {
			return append(dst, ']'), b[1:], true
		}
		for {
			var ok bool
			if dst, b, ok = c.value(dst, b); !ok {
				return dst, b, false
			}
			b = canonSkipSpace(b)
			if len(b) == 0 {
				return dst, b, false
			}
			switch b[0] {
			case ',':
				dst = append(dst, ',')
				b = b[1:]
			case ']':
				return append(dst, ']'), b[1:], true
			default:
				return dst, b, false
			}
		}
	}
	end, ok := canonValueEnd(b)
	if !ok {
		return dst, b, false
	}
	return append(dst, b[:end]...), b[end:], true
}

// object appends the canonical form of the object whose members start b
// (just after its '{').
func (c *canonicalizer) object(dst, b []byte) ([]byte, []byte, bool) {
	start := len(c.stack)
	defer func() { c.stack = c.stack[:start] }()
	b = canonSkipSpace(b)
	if len(b) > 0 && b[0] == '}' {
		return append(dst, '{', '}'), b[1:], true
	}
	for {
		end, ok := canonStringEnd(b)
		if !ok {
			return dst, b, false
		}
		key := b[:end]
		b = canonSkipSpace(b[end:])
		if len(b) == 0 || b[0] != ':' {
			return dst, b, false
		}
		b = canonSkipSpace(b[1:])
		if end, ok = canonValueEnd(b); !ok {
			return dst, b, false
		}
		c.stack = append(c.stack, canonMember{key, b[:end]})
		b = canonSkipSpace(b[end:])
		if len(b) == 0 {
			return dst, b, false
		}
		if b[0] == '}' {
			b = b[1:]
			break
		}
		if b[0] != ',' {
			return dst, b, false
		}
		b = canonSkipSpace(b[1:])
	}
	members := c.stack[start:]
	cmp := func(x, y canonMember) int {
		if n := bytes.Compare(x.key, y.key); n != 0 {
			return n
		}
		// A key sent twice (rare: the upstream does not): order by the
		// canonical forms of the values, which white space does not change.
		xc, _ := CanonicalJSON(nil, x.val)
		yc, _ := CanonicalJSON(nil, y.val)
		return bytes.Compare(xc, yc)
	}
	if !slices.IsSortedFunc(members, cmp) {
		slices.SortFunc(members, cmp)
	}
	dst = append(dst, '{')
	for i := range len(members) {
		// Read the member from the stack each time: a nested object may
		// have grown (moved) it.
		m := c.stack[start+i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(append(dst, m.key...), ':')
		var ok bool
		var rest []byte
		if dst, rest, ok = c.value(dst, m.val); !ok || len(rest) != 0 {
			return dst, b, false
		}
	}
	return append(dst, '}'), b, true
}

// canonIsSpace reports whether ch is JSON white space.
func canonIsSpace(ch byte) bool { return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t' }

// canonSkipSpace returns b without its leading JSON white space.
func canonSkipSpace(b []byte) []byte {
	for len(b) > 0 && canonIsSpace(b[0]) {
		b = b[1:]
	}
	return b
}

// canonStringEnd returns the index just past the JSON string at the start
// of b.
func canonStringEnd(b []byte) (int, bool) {
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

// canonValueEnd returns the index just past the JSON value at the start of
// b (which starts with the value, not with white space).
func canonValueEnd(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	switch b[0] {
	case '"':
		return canonStringEnd(b)
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				n, ok := canonStringEnd(b[i:])
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
		switch ch := b[i]; {
		case ch == ',' || ch == '}' || ch == ']' || ch == ':' || ch == '{' || ch == '[' || ch == '"' || canonIsSpace(ch):
			return i, i > 0
		}
	}
	return len(b), true
}

// digest is the SHA-256 of the canonical form (CanonicalJSON) of a value
// as received; ok is false for a value not decoded from JSON, or whose
// JSON CanonicalJSON did not take.
type digest struct {
	sum [sha256.Size]byte
	ok  bool
}

// canonScratch is the reusable memory of digestOf.
type canonScratch struct {
	buf []byte
	c   canonicalizer
}

var canonScratchPool = sync.Pool{New: func() any {
	return &canonScratch{c: canonicalizer{stack: make([]canonMember, 0, 32)}}
}}

// maxKeptScratch bounds the buffer a canonScratch keeps in the pool.
const maxKeptScratch = 64 << 10

// digestOf hashes the canonical form of src, a value as received.
func digestOf(src []byte) digest {
	if src == nil {
		return digest{}
	}
	s := canonScratchPool.Get().(*canonScratch)
	var d digest
	var canon []byte
	if canon, d.ok = s.c.append(s.buf[:0], src); d.ok {
		d.sum = sha256.Sum256(canon)
	}
	// Keep no pointer into src in the pool.
	clear(s.c.stack[:cap(s.c.stack)])
	if cap(canon) <= maxKeptScratch {
		s.buf = canon[:0]
		canonScratchPool.Put(s)
	}
	return d
}

// ReceivedDigest returns the SHA-256 of the canonical form
// (CanonicalJSON) of the configuration as received, hashed once when it
// was decoded; ok is false for a configuration not decoded from upstream
// JSON. It describes the object as received: fields changed since are
// not in it. Two decodes of one state give one digest whatever order and
// white space the upstream sent; any change of a value, modelled or not,
// gives another.
func (c *ServiceConfig) ReceivedDigest() (sum [sha256.Size]byte, ok bool) {
	return c.received.sum, c.received.ok
}

// ReceivedDigest returns the SHA-256 of the canonical form
// (CanonicalJSON) of the item info as received, as
// ServiceConfig.ReceivedDigest does.
func (i *ItemInfo) ReceivedDigest() (sum [sha256.Size]byte, ok bool) {
	return i.received.sum, i.received.ok
}

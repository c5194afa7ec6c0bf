package upstream

import (
	"bytes"
	"hash/maphash"
	"sync/atomic"
)

// Decoding a folder listing costs far more than receiving it: a folder of
// 200 services is about 35 KB of JSON, and encoding/json decodes it at
// tens of megabytes a second. Listings rarely change between two reads,
// so a listing that arrives byte for byte as the last one read from the
// same path is not decoded again: the value decoded then is returned
// again. Nothing is served that the upstream did not just send (every read
// still goes upstream), and the result is a pure function of the bytes,
// so sharing it between identities is as safe as sharing the bytes.
//
// The decoded value is shared by every caller that gets it, so only the
// operations that return it read-only (request.remember: ListRoot,
// ListFolder) use the memo, for types that can be shared (memoizable).

const (
	// memoSlots is the number of paths remembered; a path maps to one slot
	// by hash, and a later path of the same slot replaces it.
	memoSlots = 32
	// memoMaxBody is the largest body remembered: memory stays bounded
	// (memoSlots × memoMaxBody of bodies at most, plus their values).
	memoMaxBody = 256 << 10
)

// memoizable is a result type whose decoded values may be shared.
type memoizable interface {
	// fresh returns a new, empty value of the same type to decode into.
	fresh() memoizable
	// setFrom makes the receiver a shallow copy of v, which fresh made.
	setFrom(v memoizable)
}

type decodeMemo struct {
	seed  maphash.Seed
	slots [memoSlots]atomic.Pointer[memoEntry]
	hits  atomic.Int64
}

type memoEntry struct {
	key  string
	data []byte
	val  memoizable
}

func newDecodeMemo() *decodeMemo { return &decodeMemo{seed: maphash.MakeSeed()} }

// decode decodes data, a JSON body (send checked it) read from key
// (method, path and parameters), into v, reusing the value decoded from the
// same key's last body when data is byte for byte that body. data must not
// be modified afterwards.
func (m *decodeMemo) decode(key string, data []byte, v memoizable) error {
	if len(data) > memoMaxBody {
		return unmarshalValid(data, v)
	}
	slot := &m.slots[maphash.String(m.seed, key)%memoSlots]
	if e := slot.Load(); e != nil && e.key == key && bytes.Equal(e.data, data) {
		m.hits.Add(1)
		v.setFrom(e.val)
		return nil
	}
	val := v.fresh()
	if err := unmarshalValid(data, val); err != nil {
		return err
	}
	slot.Store(&memoEntry{key: key, data: data, val: val})
	v.setFrom(val)
	return nil
}

func (*FolderListing) fresh() memoizable { return new(FolderListing) }

func (l *FolderListing) setFrom(v memoizable) { *l = *v.(*FolderListing) }

func (*ServiceConfig) fresh() memoizable { return new(ServiceConfig) }

func (c *ServiceConfig) setFrom(v memoizable) { *c = *v.(*ServiceConfig) }

func (*ServiceStatus) fresh() memoizable { return new(ServiceStatus) }

func (s *ServiceStatus) setFrom(v memoizable) { *s = *v.(*ServiceStatus) }

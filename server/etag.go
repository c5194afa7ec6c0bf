package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"google.golang.org/grpc/codes"

	"github.com/arcgate/arcgate/upstream"
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
// The etag hashes a canonical JSON form of the resource's upstream
// representation (upstream.CanonicalJSON: object keys sorted at every
// depth, no insignificant white space), not the response bytes as sent:
// two reads of an unchanged resource, by one replica or by two, give the
// same etag whatever order and white space upstream sent the keys in. The
// service configuration and the item info, the resources read most, hash
// the object as received, once when it is decoded (ReceivedDigest), so a
// read answer costs no second encoding of what was decoded; the others
// hash the JSON encoding of the decoded value (the upstream types encode
// every key they received). Keys the upstream types drop as volatile
// (none at present) and the service's run-time state are not covered, so
// the etag is weak in the sense of RFC 9110: W/"...".
//
// The two ways can give two etags for one state (the encoding of a decoded
// value writes strings and numbers in encoding/json's form, and a few
// defaults the upstream left out). They are never compared with each
// other: a resource's read answer and its write path's check under the
// lock both hash a fresh decode of the upstream answer (etagOf on what the
// same upstream read returns), so both take the same way; a value built in
// code (tests) has no received bytes and takes the encoding in both.
// The etags of service configurations and item info changed when they
// moved to the received bytes: a client holding one from before gets
// ETAG_MISMATCH once, reads again and retries, as after any change.

// etagLen is the number of base64url characters kept of the SHA-256: 22
// characters, 132 bits.
const etagLen = 22

// receivedDigester is an upstream value that hashed the canonical form
// of the JSON it was decoded from (upstream.ServiceConfig,
// upstream.ItemInfo).
type receivedDigester interface {
	ReceivedDigest() ([sha256.Size]byte, bool)
}

// etagOf returns the etag of an upstream value as read, "" if it cannot be
// encoded (then no etag a client sends matches it). A value that kept the
// digest of the JSON it was decoded from is not encoded again: pass it as
// read, not after changing its fields.
func etagOf(upstreamValue any) string {
	if d, ok := upstreamValue.(receivedDigester); ok {
		if sum, ok := d.ReceivedDigest(); ok {
			return etagFromSum(sum)
		}
	}
	b, err := json.Marshal(upstreamValue)
	if err != nil {
		return ""
	}
	canon, ok := upstream.CanonicalJSON(make([]byte, 0, len(b)), b)
	if !ok {
		return ""
	}
	return etagFromSum(sha256.Sum256(canon))
}

// etagFromSum writes the etag of a SHA-256.
func etagFromSum(sum [sha256.Size]byte) string {
	var b [3 + 43 + 1]byte // W/", the 43 characters of 32 bytes, "
	copy(b[:], `W/"`)
	base64.RawURLEncoding.Encode(b[3:], sum[:])
	b[3+etagLen] = '"'
	return string(b[:3+etagLen+1])
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

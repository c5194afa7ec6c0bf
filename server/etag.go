package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

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
	// Decoded and encoded again, objects at every depth have their keys
	// sorted; numbers keep their text (UseNumber).
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return ""
	}
	if b, err = json.Marshal(v); err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return `W/"` + base64.RawURLEncoding.EncodeToString(sum[:])[:etagLen] + `"`
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

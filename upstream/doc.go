// Package upstream is a REST client for the ArcGIS Server Administrator
// API (https://<host>/<context>/admin/), shaped like go-github: one Client
// built with New and functional options, and one service value per
// resource family (Client.Services for services and folders; GP jobs, item
// info, usage reports and roles attach the same way). Every method takes a
// context first, and documents the upstream operation it calls with an
// "ArcGIS docs:" link and an "//upstream:operation METHOD path" line.
//
// The package uses only the standard library and knows nothing of gRPC.
//
// # Wire conventions
//
// Every request sends f=json. GET requests carry their parameters in the
// query string and the token in the X-Esri-Authorization header (a site that
// answers such a GET with 499, token required, gets the token as the token
// query parameter from then on); POST requests carry both in an
// application/x-www-form-urlencoded body, and a token is never put in a
// POST's URL. Complex values (a service configuration) are JSON strings
// inside form fields. Path segments that come from callers are escaped with
// url.PathEscape, and "." and ".." are refused.
//
// # Authentication
//
// Tokens come from a Pool, keyed by identity within the client's site: the
// gateway's service identity (WithCredentials, or WithServiceIdentity with
// a CredentialsIdentity or a fixed TokenIdentity) and the delegated
// identities that callers put in request contexts with WithIdentity. For
// credentials the pool mints tokens with the operation chosen by
// WithTokenConfig: admin generateToken (the default), the /tokens service,
// or a federated server's portal (credentials for a portal token, then the
// portal token and serverUrl for a server token), with client=requestip or
// client=referer (the Referer is then sent on every request).
//
// The pool refreshes a token in the background from its advisory window
// (around T-15 minutes for a 60-minute token, jittered, scaled to shorter
// lifetimes) while callers keep using it, makes callers wait only from the
// mandatory window (T-1 minute), runs one refresh per identity at a time,
// keeps serving a still-valid token when a refresh fails, and tries at most
// once per second per identity while no valid token exists. Its cached path
// takes plain mutexes (a lock-free version measured 30 to 80 ns a call
// faster, nothing next to an upstream call). StaticToken serves a fixed token, and WithTokenSource
// accepts any implementation for the service identity.
//
// When the upstream rejects a token (code 498 "invalid or expired" or 499
// "required"), the client invalidates exactly that token (only while it is
// current: a newer token is kept), obtains a new one and retries the request once; a
// rejected token means the operation did not run, so the retry is safe. If
// the retry is rejected too, or no token can be obtained, the error
// satisfies IsAuth.
//
// # Errors
//
// Every error returned by a request is an *Error. The upstream usually
// reports failures with HTTP 200 and an error envelope in the body, so
// every body, whatever the status, is read through a size limit
// (WithMaxResponseBytes) and checked for the admin envelope
// {"status":"error","messages":[...],"code":N} and the REST envelope
// {"error":{"code":N,"message":"...","details":...}}. Error.Kind says where
// an error came from (KindAPI, KindHTTP, KindTransport, KindDecode,
// KindTooLarge, KindToken, KindInvalid), Error.Code carries the envelope
// code, and IsNotFound and IsAuth answer the common questions. Context
// cancellation stays detectable with errors.Is. A write's error also says
// whether the write may have reached the upstream (Error.Sent) and,
// through IsOutcomeUnknown, whether it may have been applied although no
// answer says so (the answer was lost, cut short or late).
//
// # Decoding
//
// Every JSON answer is decoded one way: in one pass, with encoding/json,
// into a typed wire struct whose keys match without regard to case, and
// whose field types accept the forms upstream sends a value in (numbers
// and booleans as strings, epoch milliseconds, tags as a list or a
// comma-separated string, extents as an object or corner pairs). The
// values a caller edits and sends back (ServiceConfig and its Extension,
// ItemInfo, UsageReport) keep the object as received: Raw returns its
// keys, and MarshalJSON writes the typed fields over them, so keys this
// package does not model and upstream's key spelling survive an edit. A
// request is sent by the method for its kind of answer: JSON decoded into
// a value, a checked JSON body shared by coalesced callers, or a file.
//
// Two exceptions, paid for by their figures. A folder listing, the largest
// answer read on every ListServices, is walked once by decodeListingFast
// (listingdecode.go), which cuts plain strings from one copy of the body
// and hands anything unusual (keys differing only in case, escapes,
// unexpected kinds) back to encoding/json, so results and errors are the
// same (TestDecodeListingFastMatchesJSON, FuzzFolderListingJSON).
// BenchmarkDecodeFolderListing, 200 services: 1229 → 11 allocations;
// arcgate-bench ListServices on distinct reads: 370 → 252 allocations per
// gRPC call. Item info, the answer of every GetItemInfo, is walked once by
// decodeItemInfoFast (iteminfodecode.go) with the listing's scanner: it
// matches keys in ASCII by ItemInfo's spelling rule, cuts plain strings
// from one copy of the body, reads other value forms with the readers of
// the encoding/json path, and hands a key arriving twice, an escaped key
// or anything but an object back to that path
// (TestDecodeItemInfoFastMatchesJSON, FuzzItemInfoJSON).
// BenchmarkDecodeItemInfo: 83 → 10 allocations, about 31 → 16 µs;
// arcgate-bench GetItemInfo on distinct reads: 462 → 434 allocations per
// gRPC call (its CPU per call moved less than this machine's noise).
// These decoders, and the service configuration's (servicedecode.go),
// check the JSON grammar as they walk (jsonscan.go): an answer one of them
// takes is neither checked by json.Valid nor walked for an error envelope
// again (checkedDecoder, checkResponse; TestDecodeResponseNotJSON,
// FuzzDecodeResponseChecked).
//
// # Hand-written parts
//
// Two mechanisms are written here rather than taken from a library, because
// the common ones lack what their tests need: the circuit breaker
// (breaker.go), whose open period doubles with each failed probe and which
// reports half-open when its cool-down ends, and read coalescing
// (coalesce.go), whose request belongs to no caller (it is cancelled only
// when its last waiter leaves) and which never hands a read an answer sent
// before a write; golang.org/x/sync/singleflight ties the call to its first
// caller and has neither.
//
// # Coalesced reads and writes
//
// Identical reads in flight at once for the same identity share one
// upstream request (WithoutCoalescing turns this off). A read never gets
// the answer of a request sent before a write through the same Client
// completed, whichever resource the write changed and whoever made it:
// once a write has returned, every read sees it (as far as the upstream
// does). Nothing is promised for a write whose caller gave up before its
// answer: the upstream may still apply it later.
//
// # Secrets
//
// Tokens and passwords are never written to an error, a String or
// GoString result, a log record or a JSON encoding: Token, Identity, Pool
// and the credentials holder redact themselves for fmt (every verb),
// log/slog and encoding/json; upstream messages are scrubbed of the token and password
// in use; transport errors lose the query string of the URL; Error.Path
// never has a query. The package itself logs nothing.
package upstream

// Package simulator is an in-process fake of the ArcGIS Server Administrator
// REST API (the "admin" directory rooted at /<context>/admin/).
//
// A [Server] is an [net/http.Handler] seeded with a small sample site (root
// services, the default System and Utilities folders, a Maps and a Hosted
// folder, and optionally a Bulk folder of generated map services). It
// reproduces the wire behaviour documented in docs/upstream.md rather than
// an idealised REST API:
//
//   - every JSON answer, including errors, is HTTP 200 with
//     "Content-Type: text/plain;charset=UTF-8" (except the INVENTED HTTP
//     413 refusing a body above MaxBodyBytes);
//   - errors use the admin envelope {"status":"error","messages":[...],"code":N}
//     (and the REST envelope {"error":{...}} on /<context>/tokens/);
//   - the f parameter defaults to html, so a client that forgets f=json gets
//     an HTML page;
//   - parameters are read from the query string and from url-encoded or
//     multipart bodies, merged;
//   - tokens come from generateToken (expires is a JSON string of epoch
//     milliseconds on the admin endpoint, a number on /tokens) and are
//     accepted in the token parameter or in an X-Esri-Authorization or
//     Authorization "Bearer" header;
//   - operations are POST only, resources answer GET and POST;
//   - service operations may run as asynchronous jobs, in the shape of
//     ArcGIS Server (runAsync, admin/system/jobs; Config.AsyncExecution) or
//     of Enterprise on Kubernetes (async, admin/jobs; Config.Flavor).
//
// The simulator deliberately shares no code with the project's real client,
// so a misreading of the wire on either side shows up as a failing test.
//
// Texts that docs/upstream.md does not record (for example the
// duplicate-folder message) are invented; each is marked as such next to its
// definition.
//
// Resource families live in one file each (site.go, tokens.go, services.go,
// service.go, ...) and are wired together by the routing tables in routes.go;
// adding a family (jobs, item info, usage reports, roles) means adding a file
// and a table entry.
//
// A Server is safe for concurrent use.
package simulator

// Package statestore holds the state arcgate shares between the calls it
// serves: today the locks that serialise the read-modify-writes of one
// upstream resource (Locker). It is the seam where state shared between
// replicas will plug in; the implementation here (NewMemory) serves one
// process.
//
// Layering: the server package imports statestore; statestore imports
// neither server, gateway nor internal packages, only the standard
// library.
package statestore

// Package statestore holds the state arcgate shares between the calls it
// serves: the locks that serialise the read-modify-writes of one upstream
// resource (Locker), and small records that expire (Records: a request
// id's first outcome, long-running operations). Open picks the store: in memory (NewMemory,
// one process: the default) or Redis (NewRedis, shared by the replicas
// that use the same database, with locks on leases that a crashed holder
// keeps no longer than the lease).
//
// Layering: the server package imports statestore; statestore imports
// neither server, gateway nor internal packages, only the standard
// library and the Redis client (its tests use internal/testredis).
package statestore

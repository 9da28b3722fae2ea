// Package memory is an in-process network: one Network value owns a
// transport, a registry and a broker, so a test can build a whole cluster of
// services inside one process. Two Networks never see each other.
//
// A Network is made of named hosts. Everything a host does (listen, dial,
// register, publish, subscribe) goes through its Transport, Registry and
// Broker; crashing the host closes its listeners, resets its connections,
// closes its subscriptions and makes every further call from it fail until
// it restarts, while its registry entries stay behind until their TTL
// passes, as a real crashed process leaves them. Addresses are
// "host:port"; Listen("") or Listen("host:0") picks a free port. The
// transport keeps the package transport's contract to the letter (its
// conformance suite runs against it bare, under the host pause decorator
// and under faults' wrapper), ownership rule included: a received message
// is lent until its socket's next Recv or Close.
//
// A host's registry makes a heartbeat's renewals by itself while nothing
// could make them fail (registry.Standing): a world of many idle services
// costs nothing per heartbeat. The host's pause or crash, the network's
// close, or any other write of the node gives them back at that instant,
// and the node expires exactly when it would have had every beat been
// made.
//
// Everything blocks only on channels and timers, never on a mutex held
// across a wait, so the whole network runs inside a testing/synctest bubble
// in virtual time. Create the Network inside the bubble that uses it.
package memory

// Package registry is service discovery: servers Register their nodes with a
// TTL and keep them alive by registering again (a heartbeat); clients look
// services up and Watch for changes.
//
// Semantics every implementation honours (checked by registrytest):
//
//   - Register of a node that is already registered refreshes its TTL and
//     replaces its data; it emits an Update event only if the data changed.
//   - A node whose TTL passes without a refresh is removed and a Delete
//     event is emitted for it. A TTL of zero never expires.
//   - GetService returns the live nodes of a service grouped by version,
//     or an error wrapping ErrNotFound.
//   - A Watcher receives every event after it was created, in order, and
//     none is dropped, however slowly it reads. Implementations that build
//     events by diffing snapshots (Consul) may fold several changes to one
//     node made between two snapshots into one event; the last state is
//     always reported.
//   - Deregister of a nil or unnamed service fails with ErrInvalid.
//   - Every call honours its ctx; an unreachable registry returns an error
//     wrapping ErrUnavailable.
//
// A registry may also make a node's renewals itself (Standing), for as
// long as none of them could fail; a heartbeat then makes none, and the
// world sees the same registry as if it had made them all.
package registry

//go:generate go tool mockgen -typed -destination=registrymock/registrymock.go -package=registrymock . Registry,Watcher

// Package consul is a registry.Registry on HashiCorp Consul's HTTP API
// (github.com/hashicorp/consul/api), talking to one Consul agent.
//
// # Mapping
//
// Every node of a registry.Service becomes one Consul service instance on
// the agent:
//
//   - Service name = Service.Name; ID = QueryEscape(name) + ":" +
//     QueryEscape(node ID), because Consul needs IDs unique per agent while
//     registry node IDs are unique only within their service.
//   - Address and Port = node.Address split by net.SplitHostPort (both left
//     empty when it does not split), for Consul's DNS and UI only.
//   - Tags = [tag] (WithTag, "microsim" by default). Only instances carrying
//     the tag are seen by GetService, ListServices and Watch, so several
//     independent worlds can share one Consul under different tags.
//   - Meta carries the record the registry needs to give back exactly what
//     was registered (see Metadata encoding).
//   - A TTL (registry.WithTTL) becomes a Consul TTL check (see Expiry).
//
// # Metadata encoding
//
// Consul limits service Meta to 64 pairs, keys to [A-Za-z0-9_-] and values
// to 512 bytes, so the registry does not map metadata keys onto Meta keys.
// It marshals one JSON record {id, addr, ver, meta, eps, node_meta} holding
// the node ID and address, the version, the service metadata, the endpoints
// (with their request and response shapes, which framework/describe keeps
// to a few KiB per endpoint) and the node metadata (no omitempty anywhere, so nil and empty maps and
// slices stay distinct) and cuts it at rune boundaries into chunks of at
// most 512 bytes stored under "microsim-0", "microsim-1", ...
// (MaxRecordChunks chunks, about 30 KiB). Decoding concatenates the chunks,
// so metadata and endpoints round-trip exactly. Because Consul's API is
// JSON, every string must be valid UTF-8; Register rejects others with
// registry.ErrInvalid, as it rejects a record too large for Consul.
// Instances with our tag whose record is missing or corrupt are ignored.
//
// # Expiry
//
// A node registered with a TTL gets a TTL check (initially passing) that
// Register refreshes: every Register re-registers the instance (replacing
// its checks) and then passes the check with Agent.UpdateTTL, so the
// framework's heartbeat — Register again — keeps the node alive and revives
// one that has expired. When the TTL passes without a Register, Consul turns
// the check critical. Expiry is judged by health, not by presence in the
// catalog: GetService, ListServices and Watch only see passing instances,
// so a critical node is gone from GetService and a watcher receives Delete
// within moments of the TTL (the agent's anti-entropy carries the status to
// the catalog, usually within a fraction of a second; in the first seconds
// of an agent's life it can take a few seconds). Consul itself removes the critical instance
// from its catalog later (DeregisterCriticalServiceAfter, one minute at
// least — Consul enforces that minimum — plus up to its reaper interval);
// until then the instance is only invisible. A node registered without a
// TTL has no check and never expires.
//
// # Watch
//
// Watch turns Consul blocking queries into events: one goroutine per
// watched service runs health queries (passing only) with WaitIndex, and a
// watcher of all services adds one goroutine on the catalog's service list
// to discover services as they appear (and retires a service's goroutine
// once the service has left the catalog and has no node left). Each result
// is diffed against what the watcher has reported into Create, Update and
// Delete events, queued without bound, so none is dropped however slowly
// Next is called. Watch itself takes the starting snapshot with one round
// trip (bounded by its ctx), so that every change made after Watch returns
// yields an event.
//
// Blocking queries report states, not changes: several changes that another
// process makes to one node between two query results (say a create and a
// delete within a millisecond) coalesce into one event, or none. Changes
// made through the same Registry are not left to that: each Register that
// changes a node's data and each Deregister reports its change to the
// Registry's watchers as soon as Consul has accepted it, so they see every
// one of them, in order (a heartbeat, registering unchanged data, reports
// nothing: whether the node is live stays Consul's call). A query result
// that may predate such a change (the query started before the change was
// accepted) is not allowed to undo it; if it disagrees, the watcher queries
// again at once. Expiries and other processes' changes arrive through the
// queries, within a round trip of Consul applying them.
//
// While Consul is unreachable a watcher retries with backoff and emits
// nothing; once it is back, the difference is emitted. Each blocking query
// holds one HTTP connection to the agent (mind Consul's
// http_max_conns_per_client, 200 by default, when one host watches hundreds
// of services). Stop cancels the queries and waits for the goroutines.
//
// # Errors
//
// Every call honours its ctx. A transport failure, a ctx deadline or a
// 5xx/429 answer returns an error wrapping registry.ErrUnavailable (and the
// cause); a 400 answer wraps registry.ErrInvalid.
package consul

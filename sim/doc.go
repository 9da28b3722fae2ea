// Package sim runs scenario files (topology, workload, fault timeline,
// assertions) against an in-memory cluster in virtual time and reports
// whether the assertions held. It is built out in its own issue.
package sim

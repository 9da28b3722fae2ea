package scenario

import (
	"fmt"
	"time"
)

// Defaults of the file format: what a run uses where a scenario leaves a
// field out.
const (
	// DefaultSeed seeds a run whose scenario sets no seed.
	DefaultSeed = 1
	// DefaultWindow is the width of the metrics' time windows.
	DefaultWindow = time.Second
	// DefaultTTL is a registration's TTL.
	DefaultTTL = 3 * time.Second
	// DefaultTimeout bounds each call of a client.
	DefaultTimeout = 5 * time.Second
	// DefaultClient names the client a scenario without clients gets.
	DefaultClient = "client"
)

// Fixed names of the file format.
const (
	// ZoneKey is the node metadata key that holds an instance's zone.
	ZoneKey = "zone"
	// ArrivalsPoisson and ArrivalsUniform are the values of
	// Workload.Arrivals.
	ArrivalsPoisson = "poisson"
	ArrivalsUniform = "uniform"
)

// InstanceName is the host name and node ID of instance i of a service.
func InstanceName(service string, i int) string { return fmt.Sprintf("%s-%d", service, i) }

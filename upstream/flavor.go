package upstream

import (
	"fmt"
	"strconv"
)

// Flavor is the kind of admin API a site has. The two kinds share the
// service operations but ask for, and report, asynchronous execution
// differently (docs/upstream.md#asynchronous-operations); which one a site
// has cannot be told from one answer, so it is configured (WithFlavor).
type Flavor string

const (
	// FlavorServer is ArcGIS Server (stand-alone or federated), the
	// default: an operation sent with runAsync=true may answer a job id
	// to read at admin/system/jobs/<id> (SystemJobsService).
	FlavorServer Flavor = "server"
	// FlavorKubernetes is ArcGIS Enterprise on Kubernetes: an operation
	// sent with async=true may answer a job id to read at
	// admin/jobs/<id> (KubernetesJobsService).
	FlavorKubernetes Flavor = "kubernetes"
)

// ParseFlavor parses "server" or "kubernetes".
func ParseFlavor(s string) (Flavor, error) {
	switch f := Flavor(s); f {
	case FlavorServer, FlavorKubernetes:
		return f, nil
	}
	return "", fmt.Errorf("flavor must be server or kubernetes, not %s", strconv.Quote(truncate(s, 32)))
}

// WithFlavor sets the site's flavor (default FlavorServer; "" is the
// default too). It decides the parameter that asks for asynchronous
// execution (runAsync or async, never both) and where the job it answers
// is read (SystemJobs or KubernetesJobs).
func WithFlavor(f Flavor) Option {
	return func(c *Client) error {
		if f == "" {
			f = FlavorServer
		}
		if _, err := ParseFlavor(string(f)); err != nil {
			return fmt.Errorf("upstream: WithFlavor: %w", err)
		}
		c.flavor = f
		return nil
	}
}

// Flavor returns the site's flavor set by WithFlavor.
func (c *Client) Flavor() Flavor { return c.flavor }

// asyncParam is the form parameter that asks a site of c's flavor to run
// an operation as a job.
func (c *Client) asyncParam() string {
	if c.flavor == FlavorKubernetes {
		return "async"
	}
	return "runAsync"
}

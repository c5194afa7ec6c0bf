package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// This file sets up the client's HTTP transport: verified TLS with
// configurable roots (verification can never be turned off) and
// connection tuning (idle connections, write buffer).

// WithRootCAs makes the client verify the upstream's TLS certificate
// against pool instead of the system roots (see LoadRootCAs to add a
// private CA to the system roots). It builds the client's HTTP transport
// and so cannot be combined with WithHTTPClient. Certificate verification
// itself can never be turned off.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(c *Client) error {
		if pool == nil {
			return errors.New("upstream: WithRootCAs: nil pool")
		}
		c.hard.rootCAs = pool
		return nil
	}
}

// LoadRootCAs returns the system's root certificates plus the PEM
// certificates in file (for a site whose certificate is issued by a private
// CA), for WithRootCAs. It fails when file holds no certificate.
func LoadRootCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("upstream: reading CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("upstream: CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// hardening is the Client's TLS and resilience configuration, applied by
// harden once every option has run.
type hardening struct {
	rootCAs    *x509.CertPool
	maxConns   int // per host, for the transport New builds
	resilience *ResilienceConfig
	rt         *resilientTransport // nil without WithResilience
}

// harden builds the client's HTTP client from the options: a transport
// trusting the configured roots, wrapped by the resilient transport. It
// refuses a caller-supplied transport that skips certificate verification.
func (c *Client) harden() error {
	if c.wire.hc != nil && (c.hard.rootCAs != nil || c.hard.maxConns != 0) {
		return errors.New("upstream: WithRootCAs and WithMaxConnsPerHost cannot be combined with WithHTTPClient (configure your own transport)")
	}
	if c.wire.hc == nil {
		maxConns := c.hard.maxConns
		if maxConns == 0 {
			maxConns = DefaultMaxConcurrent
			if c.hard.resilience != nil && c.hard.resilience.MaxConcurrent > 0 {
				maxConns = c.hard.resilience.MaxConcurrent
			}
		}
		c.wire.hc = &http.Client{Transport: NewTransport(c.hard.rootCAs, maxConns)}
		if maxConns > 0 {
			c.flights.limit = maxConns // more would wait for a connection
		}
	}
	if skipsVerification(c.wire.hc.Transport) {
		return errors.New("upstream: the HTTP client's transport skips TLS certificate verification, which arcgate never allows")
	}
	if c.hard.resilience != nil {
		base := c.wire.hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		c.hard.rt = newResilientTransport(base, *c.hard.resilience, c.now, c.wire.maxBytes)
		if n := c.hard.resilience.MaxConcurrent; n > 0 && (c.flights.limit == 0 || n < c.flights.limit) {
			c.flights.limit = n // more would wait for a place
		}
		hc := *c.wire.hc
		hc.Transport = c.hard.rt
		c.wire.hc = &hc
	}
	return nil
}

// transportWriteBuffer is the write buffer of each upstream connection.
const transportWriteBuffer = 1 << 10

// NewTransport returns the transport of a client New builds: a copy of
// http.DefaultTransport that verifies server certificates (against roots
// when not nil, else the system's), with TLS 1.2 at least, and that keeps
// as many idle connections to the site as it may open (maxConns), each with
// a 1 KiB write buffer. Go's default keeps 2 idle connections per host, so
// under concurrent load every other request would open, and then close, a
// new TCP (and TLS) connection.
func NewTransport(roots *x509.CertPool, maxConns int) *http.Transport {
	if maxConns == 0 {
		maxConns = DefaultMaxConcurrent
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	// A request is mostly a GET's line and headers, well under 1 KiB; a
	// larger one (a form POST) is written in several pieces. Go's default
	// of 4 KiB is kept by every idle connection.
	tr.WriteBufferSize = transportWriteBuffer
	if maxConns > 0 {
		tr.MaxConnsPerHost = maxConns
		tr.MaxIdleConnsPerHost = maxConns
		tr.MaxIdleConns = maxConns
	}
	return tr
}

// WithMaxConnsPerHost bounds the connections the client opens to the site
// and keeps that many idle for reuse (default: the resilience
// MaxConcurrent, else DefaultMaxConcurrent; negative: no bound, Go's
// defaults for idle connections). Build the same transport with
// NewTransport to wrap it in a client of your own. It applies to the transport New builds,
// so it cannot be combined with WithHTTPClient.
func WithMaxConnsPerHost(n int) Option {
	return func(c *Client) error {
		c.hard.maxConns = n
		return nil
	}
}

// skipsVerification reports whether rt is an *http.Transport (or our
// wrapper around one) configured with InsecureSkipVerify.
func skipsVerification(rt http.RoundTripper) bool {
	if r, ok := rt.(*resilientTransport); ok {
		rt = r.base
	}
	tr, ok := rt.(*http.Transport)
	return ok && tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify
}

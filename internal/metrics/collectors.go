package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arcgate/arcgate/upstream"
)

// RegisterTokenPool adds the arcgate_token_pool_* metrics, read from stats
// (upstream.Pool.Stats) at each scrape. stats must be fast and safe for
// concurrent use. The snapshot carries no identity or token, only counts.
func (m *Metrics) RegisterTokenPool(stats func() upstream.PoolStats) error {
	return m.reg.Register(&tokenPoolCollector{stats: stats})
}

var (
	poolIdentities = prometheus.NewDesc("arcgate_token_pool_identities",
		"Identities the upstream token pool holds, the service identity included.", nil, nil)
	poolMinted = prometheus.NewDesc("arcgate_token_pool_tokens_minted_total",
		"Upstream tokens obtained from the token service.", nil, nil)
	poolRefreshes = prometheus.NewDesc("arcgate_token_pool_refresh_duration_seconds",
		"Token refresh attempts (generateToken flows), successful or not, and their total duration.", nil, nil)
	poolRefreshMax = prometheus.NewDesc("arcgate_token_pool_refresh_duration_max_seconds",
		"The longest token refresh so far.", nil, nil)
	poolFailures = prometheus.NewDesc("arcgate_token_pool_refresh_failures_total",
		"Failed token refresh attempts.", nil, nil)
	poolRejections = prometheus.NewDesc("arcgate_token_pool_rejections_total",
		"Tokens the upstream rejected with code 498 or 499.", nil, nil)
	poolEvictions = prometheus.NewDesc("arcgate_token_pool_evictions_total",
		"Delegated identities dropped from the pool for idleness or size.", nil, nil)
)

// tokenPoolCollector reads a PoolStats snapshot at each scrape.
type tokenPoolCollector struct {
	stats func() upstream.PoolStats
}

// Describe implements prometheus.Collector.
func (c *tokenPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolIdentities, poolMinted, poolRefreshes, poolRefreshMax, poolFailures, poolRejections, poolEvictions} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *tokenPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(poolIdentities, prometheus.GaugeValue, float64(s.Identities))
	ch <- prometheus.MustNewConstMetric(poolMinted, prometheus.CounterValue, float64(s.TokensMinted))
	ch <- prometheus.MustNewConstSummary(poolRefreshes, s.Refreshes, s.RefreshLatencySum.Seconds(), nil)
	ch <- prometheus.MustNewConstMetric(poolRefreshMax, prometheus.GaugeValue, s.RefreshLatencyMax.Seconds())
	ch <- prometheus.MustNewConstMetric(poolFailures, prometheus.CounterValue, float64(s.RefreshFailures))
	ch <- prometheus.MustNewConstMetric(poolRejections, prometheus.CounterValue, float64(s.Rejections))
	ch <- prometheus.MustNewConstMetric(poolEvictions, prometheus.CounterValue, float64(s.Evictions))
}

var (
	circuitDesc = prometheus.NewDesc("arcgate_upstream_circuit_state",
		"State of the upstream circuit breaker: 1 for the current state (closed, open, half-open), 0 for the others.", []string{"state"}, nil)
	failuresDesc = prometheus.NewDesc("arcgate_upstream_consecutive_failures",
		"Failed upstream requests since the last success.", nil, nil)
	upInFlightDesc = prometheus.NewDesc("arcgate_upstream_in_flight_requests",
		"Upstream requests in progress.", nil, nil)
)

// breakerStates are the circuit breaker states exported, in a fixed order.
var breakerStates = []upstream.BreakerState{upstream.BreakerClosed, upstream.BreakerOpen, upstream.BreakerHalfOpen}

// RegisterUpstreamHealth adds arcgate_upstream_circuit_state (one series
// per state, 1 for the current one), arcgate_upstream_consecutive_failures
// and arcgate_upstream_in_flight_requests, read from health
// (upstream.Client.Health) at each scrape. health must be fast and safe
// for concurrent use.
func (m *Metrics) RegisterUpstreamHealth(health func() upstream.Health) error {
	return m.reg.Register(&healthCollector{health: health})
}

// healthCollector reads the upstream client's health at each scrape.
type healthCollector struct {
	health func() upstream.Health
}

// Describe implements prometheus.Collector.
func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- circuitDesc
	ch <- failuresDesc
	ch <- upInFlightDesc
}

// Collect implements prometheus.Collector.
func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.health()
	for _, s := range breakerStates {
		v := 0.0
		if s == h.Breaker {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, v, s.String())
	}
	ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.GaugeValue, float64(h.ConsecutiveFailures))
	ch <- prometheus.MustNewConstMetric(upInFlightDesc, prometheus.GaugeValue, float64(h.InFlight))
}

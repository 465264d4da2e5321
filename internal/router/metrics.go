package router

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/needle-router/needle/internal/needle"
)

// Metrics are the router's Prometheus series.
type Metrics struct {
	latency    *prometheus.HistogramVec
	escalation *prometheus.CounterVec
	breaker    *prometheus.GaugeVec
	tokens     *prometheus.CounterVec
	tokSeconds *prometheus.CounterVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "needle_route_duration_seconds",
			Help: "Route latency by decision.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"decision"}),
		escalation: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needle_escalations_total",
			Help: "Requests sent to the cloud model, by reason."}, []string{"reason"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "needle_cloud_breaker_state",
			Help: "1 for the cloud breaker's current state."}, []string{"state"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needle_model_tokens_total",
			Help: "Tokens processed by the local model."}, []string{"stage"}),
		tokSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needle_model_seconds_total",
			Help: "Seconds spent in the local model (tokens/s = tokens_total / seconds_total)."}, []string{"stage"}),
	}
	reg.MustRegister(m.latency, m.escalation, m.breaker, m.tokens, m.tokSeconds)
	return m
}

func (m *Metrics) observe(o *Output, c Cloud) {
	m.latency.WithLabelValues(o.Decision.String()).Observe(o.Timings.Total.Seconds())
	if o.Reason != ReasonNone {
		m.escalation.WithLabelValues(o.Reason.String()).Inc()
	}
	if c != nil {
		for _, s := range []string{"closed", "half-open", "open"} {
			v := 0.0
			if c.State() == s {
				v = 1
			}
			m.breaker.WithLabelValues(s).Set(v)
		}
	}
}

func (m *Metrics) countTokens(r *needle.Result) {
	m.tokens.WithLabelValues("prefill").Add(float64(r.PromptTokens))
	m.tokens.WithLabelValues("decode").Add(float64(r.OutputTokens))
	m.tokSeconds.WithLabelValues("prefill").Add(r.Timings.Encode.Seconds())
	m.tokSeconds.WithLabelValues("decode").Add(r.Timings.Decode.Seconds())
}

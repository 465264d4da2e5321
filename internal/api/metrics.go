package api

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/router"
)

// Metrics are the router's Prometheus series. It implements router.Observer, and gives the
// cloud client its attempt and breaker callbacks.
type Metrics struct {
	latency     *prometheus.HistogramVec
	requests    *prometheus.CounterVec
	escalations *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	breaker     *prometheus.GaugeVec
	queue       prometheus.Gauge
	shed        prometheus.Counter
	skipped     prometheus.Counter
	stale       prometheus.Gauge
	damaged     prometheus.Gauge
	tokens      *prometheus.CounterVec
	tokSeconds  *prometheus.CounterVec
	modelEvents *prometheus.CounterVec
	reg         prometheus.Registerer
}

var _ router.Observer = (*Metrics)(nil)

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "needle_route_duration_seconds",
			Help:    "Latency of answered Routes by decision and the local model they ran on (\"default\", or a model under --models-dir).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"decision", "model"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needle_route_requests_total",
			Help: "Route calls by gRPC code and decision (decision is \"none\" for errors)."}, []string{"code", "decision"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needle_escalations_total",
			Help: "Requests that wanted the cloud model, by reason and outcome (ok, or the fallback cause)."}, []string{"reason", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needle_cloud_attempts_total",
			Help: "HTTP attempts to the cloud model by kind (ok, timeout, network, http_429, http_5xx, http_4xx, bad_response)."}, []string{"kind"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "needle_cloud_breaker_state",
			Help: "1 for the cloud breaker's current state (set by the breaker's state-change callback)."}, []string{"state"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "needle_queue_depth",
			Help: "Requests waiting for a model worker."}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{Name: "needle_shed_total",
			Help: "Requests refused with RESOURCE_EXHAUSTED by admission control."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "needle_toolsets_skipped_total",
			Help: "Stored or file toolsets that failed to load at start and were skipped."}),
		stale: prometheus.NewGauge(prometheus.GaugeOpts{Name: "needle_toolsets_stale",
			Help: "1 while the shared toolset store (--store) is out of sight: the toolsets served are those last seen and writes fail with UNAVAILABLE; 0 otherwise."}),
		damaged: prometheus.NewGauge(prometheus.GaugeOpts{Name: "needle_toolset_store_damaged",
			Help: "1 when the toolset store file was damaged at start: it was set aside and rebuilt from what could be read (log and /healthz say more)."}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needle_model_tokens_total",
			Help: "Tokens processed by the local model."}, []string{"stage"}),
		tokSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needle_model_seconds_total",
			Help: "Seconds spent in the local model (tokens/s = tokens_total / seconds_total)."}, []string{"stage"}),
		modelEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needle_model_events_total",
			Help: "Models under --models-dir: loaded, shared (identical files, one instance), reloaded (files changed), failed, reload_failed (the previous version kept serving), evicted (model memory budget)."}, []string{"event"}),
		reg: reg,
	}
	reg.MustRegister(m.latency, m.requests, m.escalations, m.attempts, m.breaker, m.queue, m.shed, m.skipped, m.stale, m.damaged, m.tokens, m.tokSeconds, m.modelEvents)
	m.BreakerState("", "closed")
	return m
}

// Routed implements router.Observer.
func (m *Metrics) Routed(o *router.Output) {
	m.latency.WithLabelValues(o.Decision.String(), o.Model).Observe(o.Timings.Total.Seconds())
}

// ModelEvent counts a model load, reload or eviction (modelset.Config.OnEvent).
func (m *Metrics) ModelEvent(event string) { m.modelEvents.WithLabelValues(event).Inc() }

// ModelCounts is what the metrics read of the named models (the wiring fills it from
// modelset.Set.Stats: the edge does not link the model set).
type ModelCounts struct {
	Models        int   // instances held (identical ones once)
	Bytes, Budget int64 // their memory, and the budget (--model-cache-bytes)
}

// ModelMemory exports the named models' memory and count from stats.
func (m *Metrics) ModelMemory(stats func() ModelCounts) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "needle_models_loaded", Help: "Models under --models-dir held in memory (identical ones once)."},
			func() float64 { return float64(stats().Models) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "needle_model_memory_bytes", Help: "Memory held by the models under --models-dir (the default model not counted)."},
			func() float64 { return float64(stats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "needle_model_memory_budget_bytes", Help: "--model-cache-bytes."},
			func() float64 { return float64(stats().Budget) }))
}

// Escalation implements router.Observer.
func (m *Metrics) Escalation(r router.Reason, c router.FallbackCause) {
	outcome := "ok"
	if c != router.CauseNone {
		outcome = c.String()
	}
	m.escalations.WithLabelValues(r.String(), outcome).Inc()
}

// ModelRun implements router.Observer.
func (m *Metrics) ModelRun(r router.ModelStats) {
	m.tokens.WithLabelValues("prefill").Add(float64(r.PromptTokens))
	m.tokens.WithLabelValues("decode").Add(float64(r.OutputTokens))
	m.tokSeconds.WithLabelValues("prefill").Add(r.Prefill.Seconds())
	m.tokSeconds.WithLabelValues("decode").Add(r.Decode.Seconds())
}

// QueueDepth implements router.Observer.
func (m *Metrics) QueueDepth(n int) { m.queue.Set(float64(n)) }

// Shed implements router.Observer.
func (m *Metrics) Shed() { m.shed.Inc() }

// CloudAttempt is escalate.Config.OnAttempt.
func (m *Metrics) CloudAttempt(k escalate.Kind) { m.attempts.WithLabelValues(string(k)).Inc() }

// BreakerState is escalate.Config.OnStateChange.
func (m *Metrics) BreakerState(_, to string) {
	for _, s := range []string{"closed", "half-open", "open"} {
		v := 0.0
		if s == to {
			v = 1
		}
		m.breaker.WithLabelValues(s).Set(v)
	}
}

// StoreDamaged marks the toolset store as damaged at start (registry.Config.OnDamaged).
func (m *Metrics) StoreDamaged() { m.damaged.Set(1) }

// ToolsetSkipped counts a toolset that failed to load (registry.Config.OnSkip).
func (m *Metrics) ToolsetSkipped() { m.skipped.Inc() }

// ToolsetsStale sets needle_toolsets_stale (registry.Config.OnStale).
func (m *Metrics) ToolsetsStale(stale bool) {
	v := 0.0
	if stale {
		v = 1
	}
	m.stale.Set(v)
}

// outcomes counts every Route by code and decision, errors and panics included.
func (m *Metrics) outcomes(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if info.FullMethod == routerv1.RouterService_Route_FullMethodName {
		decision := "none"
		if r, ok := resp.(*routerv1.RouteResponse); ok && err == nil {
			decision = router.Decision(r.GetDecision()).String()
		}
		m.requests.WithLabelValues(status.Code(err).String(), decision).Inc()
	}
	return resp, err
}

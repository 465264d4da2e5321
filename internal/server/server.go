// Package server wires the router process: model, registry, cloud client, telemetry, the
// gRPC server (health, reflection, keepalive, logging and recovery middleware, OpenTelemetry
// stats handler) and the HTTP server (/metrics, /healthz, the HTTP/JSON API under /v1/ and
// the playground page), plus the escalation capture writer. cmd/router only parses flags.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/api"
	"github.com/needle-router/needle/internal/capture"
	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/ftjob"
	"github.com/needle-router/needle/internal/kernels"
	"github.com/needle-router/needle/internal/modelset"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/registry/etcdstore"
	"github.com/needle-router/needle/internal/router"
	"github.com/needle-router/needle/models"
)

const serviceName = "needle.router.v1.RouterService"

// Run serves until ctx is done, then shuts down: at once gRPC health turns NOT_SERVING,
// HTTP /healthz answers 503 "draining" and new HTTP API requests get UNAVAILABLE from the
// error table; Health/Watch streams end, escalations in flight return their local answers,
// in-flight requests drain (at most DrainTimeout) and traces flush (at most ExportTimeout).
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	kernels.Configure(cfg.Kernels) // before the model loads: the pool keeps its first size
	if err := cfg.Validate(); err != nil {
		return err
	}
	tp, err := tracerProvider(ctx)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ExportTimeout)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			log.Warn("trace export did not finish", "err", err.Error())
		}
	}()

	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := api.NewMetrics(promReg)

	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus(serviceName, healthpb.HealthCheckResponse_NOT_SERVING)
	hw := &healthWatch{Server: hs, stopping: make(chan struct{})}
	var svc atomic.Pointer[api.Service]
	var toolsets atomic.Pointer[registry.Registry]
	var draining atomic.Bool

	opts := append(api.ServerOptions(log, metrics, logging.UnaryServerInterceptor(slogLogger(log), logging.WithLogOnEvents(logging.FinishCall))),
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp),
			otelgrpc.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})))),
		grpc.MaxRecvMsgSize(cfg.MaxMsgBytes),
		grpc.MaxSendMsgSize(cfg.MaxMsgBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute, Time: 2 * time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	gs := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(gs, hw)
	gs.RegisterService(whenReady(&svc), (*api.Service)(nil)) // the type only: whenReady hands each call to svc
	reflection.Register(gs)

	gl, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return err
	}
	hl, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		gl.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case draining.Load():
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		case svc.Load() == nil:
			http.Error(w, "loading", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
		h := toolsets.Load().Health()
		fmt.Fprintln(w, toolsetsDetail(h))
		if h.Damage != "" { // serving, degraded: say so where an operator looks
			fmt.Fprintln(w, "degraded: "+h.Damage)
		}
	})
	closeWeb, err := mountWeb(ctx, mux, gl.Addr(), cfg.MaxMsgBytes, log, draining.Load)
	if err != nil {
		gl.Close()
		hl.Close()
		return err
	}
	defer closeWeb()
	hsrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(gl) }()
	go func() {
		if err := hsrv.Serve(hl); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	log.Info("listening", "grpc", gl.Addr().String(), "http", hl.Addr().String())
	if cfg.Ready != nil {
		cfg.Ready(gl.Addr().String(), hl.Addr().String())
	}

	// Load after listening, so health checks see NOT_SERVING rather than a refused port.
	p, reg, err := build(ctx, cfg, log, tp, metrics)
	if err != nil {
		gs.Stop()
		hsrv.Close()
		return err
	}
	defer reg.Close()
	toolsets.Store(reg)
	ft := ftjob.New(ftjob.Config{Enabled: cfg.Finetune, Command: cfg.FinetuneCommand, ModelsDir: cfg.ModelsDir, MaxMinutes: cfg.FinetuneMaxMinutes, Log: log})
	defer ft.Close() // a fine-tune in progress stops; its partial model is removed
	svc.Store(api.NewService(p, reg, log).WithFinetune(ft))
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(serviceName, healthpb.HealthCheckResponse_SERVING)
	log.Info("serving")

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	log.Info("shutting down: draining in-flight requests")
	draining.Store(true)             // /healthz and the HTTP API say so from now
	hsrv.SetKeepAlivesEnabled(false) // HTTP clients reconnect, to another replica
	hs.Shutdown()                    // NOT_SERVING to every check and watcher
	close(hw.stopping)               // then end the Watch streams, which GracefulStop would wait for
	p.StopEscalations()              // escalations in flight answer with their local answers
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.DrainTimeout):
		log.Warn("drain timeout: stopping")
		gs.Stop()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hsrv.Shutdown(sctx)
}

// toolsetsDetail is /healthz's line about the toolset store. A stale replica stays ready:
// it serves the toolsets it has, and every replica loses the same store at once. No address
// or error text: the HTTP port is public.
func toolsetsDetail(h registry.Health) string {
	if h.Stale {
		return fmt.Sprintf("toolsets: stale since %s: the shared store does not answer; serving the toolsets of store revision %d; writes fail with UNAVAILABLE",
			h.Since.UTC().Format(time.RFC3339), h.Revision)
	}
	kind, _, _ := strings.Cut(h.Store, " ")
	if strings.Contains(kind, "://") {
		kind = "shared"
	}
	return fmt.Sprintf("toolsets: in step with the %s store at revision %d", kind, h.Revision)
}

func build(ctx context.Context, cfg Config, log *slog.Logger, tp *sdktrace.TracerProvider, metrics *api.Metrics) (*router.Pipeline, *registry.Registry, error) {
	var model router.LocalModel
	modelID := "none"
	var modelThreshold float64 // the default model's own (needle.Model.Threshold), 0: none
	if !cfg.NoModel {
		var m *needle.Model
		var err error
		if cfg.ModelDir != "" {
			m, err = needle.Load(os.DirFS(cfg.ModelDir), needle.Options{Weights: cfg.Weights})
		} else {
			m, err = needle.Load(models.FS, needle.Options{Weights: cfg.Weights})
		}
		switch {
		case errors.Is(err, needle.ErrNoModel) && cfg.ModelDir == "": // a checkout without a trained model
			log.Warn("no trained model is present in models/: every request escalates to the cloud model")
		case err != nil:
			return nil, nil, fmt.Errorf("load model: %w", err)
		default:
			d, err := decode.New(m, decode.Options{})
			if err != nil {
				return nil, nil, fmt.Errorf("load model: %w", err)
			}
			model, modelID, modelThreshold = d, m.ID(), m.Threshold()
			log.Info("model loaded", "model", modelID, "weights", m.WeightsFormat(), "d_model", m.Config().DModel, "layers", m.Config().EncLayers+m.Config().DecLayers,
				"kernels", kernels.Describe())
			if w := kernels.Warning(); w != "" {
				log.Warn("kernel settings not followed", "why", w)
			}
		}
	}
	var def modelset.Model
	if model != nil {
		def = model
	}
	models, err := modelset.New(modelset.Config{Root: cfg.ModelsDir, Default: def, DefaultID: modelID, DefaultThreshold: modelThreshold, Budget: cfg.ModelCacheBytes,
		Load: modelset.NeedleLoad(cfg.Weights), Log: log, OnEvent: metrics.ModelEvent})
	if err != nil {
		return nil, nil, err
	}
	metrics.ModelMemory(func() api.ModelCounts {
		st := models.Stats()
		return api.ModelCounts{Models: st.Models, Bytes: st.Bytes, Budget: st.Budget}
	})
	rcfg := registry.Config{DataDir: cfg.DataDir, ToolsDir: cfg.ToolsDir, Log: log, OnSkip: metrics.ToolsetSkipped, OnStale: metrics.ToolsetsStale,
		OnDamaged: metrics.StoreDamaged}
	if cfg.Store != "" {
		sc, err := etcdstore.ParseURL(cfg.Store) // validated by Load
		if err != nil {
			return nil, nil, fmt.Errorf("--store: %w", err)
		}
		st, err := etcdstore.Open(sc)
		if err != nil {
			return nil, nil, err
		}
		rcfg.Store = st
		log.Info("toolsets from the shared store", "store", st.Describe())
	}
	reg, err := registry.OpenContext(ctx, rcfg)
	if err != nil {
		return nil, nil, err
	}
	// Toolsets' models load now, so the first requests do not wait for them; one that does
	// not load is logged, and its toolset answers UNAVAILABLE until its files are fixed.
	for _, ts := range reg.List() {
		if ts.Model == "" {
			continue
		}
		l, err := models.Acquire(context.Background(), ts.Model)
		if err != nil {
			log.Error("the toolset's model does not load: its requests answer UNAVAILABLE until it does", "toolset", ts.Name, "model", ts.Model, "err", err.Error())
			continue
		}
		l.Release()
	}
	capt, err := openCapture(capture.Config{Dir: cfg.CaptureDir, MaxBytes: cfg.CaptureMaxBytes, MaxFiles: cfg.CaptureFiles}, log)
	if err != nil {
		reg.Close()
		return nil, nil, err
	}
	cloud := escalate.New(escalate.Config{BaseURL: cfg.CloudURL, Model: cfg.CloudModel, APIKey: cfg.CloudAPIKey,
		Timeout: cfg.CloudTimeout, MaxRetries: cfg.CloudRetries,
		Breaker: escalate.BreakerConfig{Failures: uint32(cfg.BreakerFailures), OpenFor: cfg.BreakerOpenFor},
		Log:     log, OnAttempt: metrics.CloudAttempt, OnStateChange: metrics.BreakerState})
	if !cloud.Configured() {
		log.Warn("no cloud model configured (NEEDLE_CLOUD_BASE_URL): escalations fall back to local answers")
	}
	rc := cfg.Pipeline()
	rc.ModelID, rc.Models, rc.Capture, rc.Observer = modelID, models, capt, metrics
	rc.Tracer = tp.Tracer("github.com/needle-router/needle/internal/router")
	p := router.New(rc, model, cloud, reg)
	return p, reg, nil
}

// healthWatch ends Health/Watch streams when shutdown begins, so they do not hold
// GracefulStop for the whole drain timeout.
type healthWatch struct {
	*health.Server
	stopping chan struct{}
}

func (h *healthWatch) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-h.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := h.Server.Watch(req, watchStream{stream, ctx})
	if ctx.Err() != nil && stream.Context().Err() == nil {
		return api.Status(stream.Context(), slog.New(slog.DiscardHandler), api.ErrShuttingDown)
	}
	return err
}

type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

func (w watchStream) Context() context.Context { return w.ctx }

// tracerProvider exports spans over OTLP when the standard OTEL_* variables ask for it;
// otherwise spans are still made (responses carry trace ids) but not exported.
func tracerProvider(ctx context.Context) (*sdktrace.TracerProvider, error) {
	res := resource.NewSchemaless(semconv.ServiceName(envOr("OTEL_SERVICE_NAME", "needle-router")))
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_TRACES_EXPORTER") == "otlp" {
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func slogLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

var errLoading = api.Status(context.Background(), slog.New(slog.DiscardHandler), api.ErrLoading)

// whenReady is the router service's description with every method answering Unavailable
// until svc holds the real service, then handled by it: one wrapper for all methods, so a
// new RPC needs nothing here.
func whenReady(svc *atomic.Pointer[api.Service]) *grpc.ServiceDesc {
	desc := routerv1.RouterService_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		h := desc.Methods[i].Handler
		desc.Methods[i].Handler = func(_ any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			s := svc.Load()
			if s == nil {
				return nil, errLoading
			}
			return h(s, ctx, dec, ic)
		}
	}
	return &desc
}

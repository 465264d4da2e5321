package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
)

// compose is the part of docker-compose.yml this test reads.
type compose struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

// interpolate does compose's ${VAR:-default} with an empty environment (nothing exported).
func interpolate(s string) string {
	return regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(:-([^}]*))?\}`).ReplaceAllStringFunc(s, func(m string) string {
		if i := strings.Index(m, ":-"); i >= 0 {
			return m[i+2 : len(m)-1]
		}
		return ""
	})
}

// dockerfile returns the final stage's ENTRYPOINT and its COPY destinations mapped to the
// repository paths they come from.
func dockerfile(t *testing.T) (entry []string, copies map[string]string) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	copies = map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "FROM":
			copies = map[string]string{} // a new stage
		case len(f) == 3 && f[0] == "COPY":
			copies[f[2]] = filepath.Join("../..", f[1])
		case strings.HasPrefix(line, "ENTRYPOINT "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT ")), &entry); err != nil {
				t.Fatalf("ENTRYPOINT: %v", err)
			}
		}
	}
	return entry, copies
}

// fakeCollector is the compose file's otel-collector: an OTLP/gRPC trace endpoint that
// counts the spans it receives.
type fakeCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	spans atomic.Int64
}

func (c *fakeCollector) Export(_ context.Context, r *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	for _, rs := range r.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans.Add(int64(len(ss.Spans)))
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// TestComposeRouter starts the router binary the way docker-compose.yml and the Dockerfile
// start it: the image's ENTRYPOINT with compose's command and environment (${VAR:-default}
// with nothing exported). What has no meaning outside Docker is mapped, and only that: image
// paths to the repository paths the Dockerfile copies (volumes to temporary directories),
// the otel-collector host to a local fake collector, the published ports to free local ports
// (through NEEDLE_GRPC_ADDR and NEEDLE_HTTP_ADDR, which the container leaves at their
// defaults). It then runs compose's health check (grpc_health_probe, when make tools has
// installed it), the perception service's entrypoint, and checks spans reach the collector.
func TestComposeRouter(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router binary")
	}
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	router, ok := c.Services["router"]
	if !ok {
		t.Fatal("no router service")
	}
	if len(router.Healthcheck.Test) < 2 || router.Healthcheck.Test[1] != "/usr/local/bin/grpc_health_probe" {
		t.Fatalf("router healthcheck %v: want grpc_health_probe", router.Healthcheck.Test)
	}
	if c.Services["perception"].DependsOn["router"].Condition != "service_healthy" {
		t.Fatal("perception does not wait for the router's health")
	}
	entry, copies := dockerfile(t)
	if len(entry) == 0 || entry[0] != "/usr/local/bin/router" {
		t.Fatalf("ENTRYPOINT %v", entry)
	}
	for _, v := range router.Volumes { // named volumes: fresh directories
		copies[strings.SplitN(v, ":", 2)[1]] = t.TempDir()
	}
	mapPath := func(s string) string {
		for dst, src := range copies {
			if s == dst || strings.HasPrefix(s, dst+"/") {
				return src + strings.TrimPrefix(s, dst)
			}
		}
		return s
	}
	var args []string
	for _, a := range append(entry[1:], router.Command...) {
		args = append(args, mapPath(a))
	}

	col := &fakeCollector{}
	gs := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(gs, col)
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(cl)
	t.Cleanup(gs.Stop)

	grpcAddr, httpAddr := freePort(t), freePort(t)
	env := []string{"NEEDLE_GRPC_ADDR=" + grpcAddr, "NEEDLE_HTTP_ADDR=" + httpAddr}
	for k, v := range router.Environment {
		v = strings.ReplaceAll(interpolate(v), "otel-collector:4317", cl.Addr().String())
		env = append(env, k+"="+v)
	}
	t.Logf("router %v\nenv %v", args, env)
	p := &proc{grpc: grpcAddr, web: httpAddr, done: make(chan error, 1)}
	p.cmd = exec.Command(routerBinary(t), args...)
	p.cmd.Env = env
	startProc(t, p)

	// compose's health check, as compose runs it.
	probe := os.Getenv("NEEDLE_E2E_HEALTH_PROBE")
	if probe == "" {
		probe, _ = filepath.Abs("../../.tools/bin/grpc-health-probe")
	}
	if _, err := os.Stat(probe); err == nil {
		hc := router.Healthcheck.Test[2:]
		for i, a := range hc {
			hc[i] = strings.Replace(a, "localhost:50051", grpcAddr, 1)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, err := exec.Command(probe, hc...).CombinedOutput()
			if err == nil {
				t.Logf("health check: %s", out)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("health check never passed: %v %s", err, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	} else {
		t.Logf("grpc_health_probe not at %s (make tools installs it): checking health with a Go client", probe)
		waitServing(t, dial(t, grpcAddr))
	}
	waitHTTP(t, "http://"+httpAddr)

	// The perception service, with its volume and the router's service name mapped.
	stub := filepath.Join(t.TempDir(), "perception-stub")
	if out, err := exec.Command("go", "build", "-o", stub, "../perception-stub").CombinedOutput(); err != nil {
		t.Fatalf("build stub: %v\n%s", err, out)
	}
	perc := c.Services["perception"]
	vols := map[string]string{}
	for _, v := range perc.Volumes {
		f := strings.Split(v, ":")
		vols[f[1]] = filepath.Join("../..", f[0])
	}
	var sargs []string
	for _, a := range perc.Entrypoint[1:] {
		a = strings.ReplaceAll(a, "router:50051", grpcAddr)
		if v, ok := vols[a]; ok {
			a = v
		}
		sargs = append(sargs, a)
	}
	out, err := exec.Command(stub, sargs...).CombinedOutput()
	t.Logf("perception-stub %v:\n%s", sargs, out)
	if err != nil || strings.Count(string(out), " -> ") < 2 {
		t.Fatalf("the perception stub failed: %v", err)
	}

	// Spans reach the collector: SIGTERM flushes the exporter.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("router exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("router did not exit")
	}
	if col.spans.Load() == 0 {
		t.Fatal("no spans reached the collector")
	}
	t.Logf("%d spans exported", col.spans.Load())
}

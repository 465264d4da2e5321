// Package charttest lints and renders deploy/helm/needle-router with helm's own Go packages
// (the chart loader, the linter, the template engine: what helm lint and helm template run,
// at the version pinned in go.mod), decodes every manifest strictly into the Kubernetes API
// types, then checks what the chart promises: gRPC probes, a grace period that covers preStop
// + drain + trace export, no root, a read-only root file system, both Services, the HPA and
// PDB aiming at the Deployment, toolsets mounted, and every router setting reachable from
// values.
//
// It is a module of its own so that helm, k8s.io/api and their dependencies stay out of the
// router's module graph (go.mod, go.sum, the image's build): only this test uses them. It
// calls helm in-process rather than running the helm CLI because building the CLI from source
// (with its Kubernetes client, OCI registry and plugin runtime) made a cold run half again as
// long (README, "The Helm chart").
package charttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	chart       = "../needle-router"
	release     = "rel"
	namespace   = "routers"
	kubeVersion = "1.31.0"
)

// values merges values files the way helm's -f does (pkg/cli/values): each file read as
// YAML, a later file winning key by key, maps merged.
func values(files ...string) (map[string]any, error) {
	base := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		m, err := loader.LoadValues(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", f, err)
		}
		base = loader.MergeMaps(base, m)
	}
	return base, nil
}

// lintChart is `helm lint --strict --namespace routers` with the given values
// (pkg/action.Lint without the CLI): every rule of helm's linter (Chart.yaml, values and
// schema, templates rendered in lint mode and parsed as Kubernetes objects, APIs deprecated in
// the newest Kubernetes helm knows, dependencies, CRDs), a warning counting as an error.
func lintChart(vals map[string]any) error {
	if _, err := os.Stat(filepath.Join(chart, "Chart.yaml")); err != nil {
		return fmt.Errorf("unable to check Chart.yaml file in chart: %w", err)
	}
	var errs []string
	for _, m := range lint.RunAll(chart, vals, namespace).Messages {
		if m.Severity >= support.WarningSev {
			errs = append(errs, m.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("helm lint --strict:\n%s", strings.Join(errs, "\n"))
	}
	return nil
}

// template is `helm template rel ../needle-router --namespace routers --kube-version 1.31.0`
// with the given values, done as pkg/action.Install does it client-only (helm template) but
// without the action package, whose Kubernetes client would triple what this test compiles:
// the chart loaded, its kubeVersion checked, values coalesced with the chart's and validated
// against its schema, the templates rendered by helm's engine, NOTES.txt dropped, and the
// manifests split and put in install order. It returns the YAML documents, hooks first as
// helm template prints them.
func template(vals map[string]any) ([]string, error) {
	ch, err := loader.Load(chart)
	if err != nil {
		return nil, err
	}
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	if c := ch.Metadata.KubeVersion; c != "" && !chartutil.IsCompatibleRange(c, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", c, caps.KubeVersion.Version)
	}
	if err := chartutil.ProcessDependencies(ch, vals); err != nil {
		return nil, err
	}
	opts := common.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := util.ToRenderValuesWithSchemaValidation(ch, vals, opts, caps, false)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	var docs []string
	for _, h := range hooks {
		docs = append(docs, h.Manifest)
	}
	for _, m := range manifests {
		docs = append(docs, m.Content)
	}
	return docs, nil
}

// serviceMonitor is the part of the Prometheus Operator's type the chart writes, decoded
// strictly like the rest (its Go module would bring the operator's whole API).
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type rendered struct {
	deploy   *appsv1.Deployment
	services []*corev1.Service
	hpa      *autoscalingv2.HorizontalPodAutoscaler
	pdb      *policyv1.PodDisruptionBudget
	cms      []*corev1.ConfigMap
	sm       *serviceMonitor
}

// render lints and renders the chart with the values files and decodes the manifests.
func render(t *testing.T, files ...string) *rendered {
	t.Helper()
	vals, err := values(files...)
	if err != nil {
		t.Fatal(err)
	}
	if err := lintChart(vals); err != nil {
		t.Fatal(err)
	}
	docs, err := template(vals)
	if err != nil {
		t.Fatal(err)
	}
	r := &rendered{}
	for _, doc := range docs {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		var into any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			if r.deploy != nil {
				t.Fatal("two Deployments")
			}
			r.deploy = &appsv1.Deployment{}
			into = r.deploy
		case "v1 Service":
			s := &corev1.Service{}
			r.services = append(r.services, s)
			into = s
		case "autoscaling/v2 HorizontalPodAutoscaler":
			r.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
			into = r.hpa
		case "policy/v1 PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			into = r.pdb
		case "v1 ConfigMap":
			cm := &corev1.ConfigMap{}
			r.cms = append(r.cms, cm)
			into = cm
		case "monitoring.coreos.com/v1 ServiceMonitor":
			r.sm = &serviceMonitor{}
			into = r.sm
		default:
			t.Fatalf("unexpected object %s %s", tm.APIVersion, tm.Kind)
		}
		// Strict: a misspelt or misplaced field is an error, not silently dropped.
		if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
			t.Fatalf("%s does not decode strictly: %v\n%s", tm.Kind, err, doc)
		}
	}
	if r.deploy == nil {
		t.Fatal("no Deployment")
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

func seconds(t *testing.T, s string) int64 {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return int64(d.Seconds())
}

// invariants hold for any values.
func invariants(t *testing.T, r *rendered) {
	t.Helper()
	d := r.deploy
	pod := d.Spec.Template
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
		t.Fatalf("the Deployment's selector %v does not select its pods %v", d.Spec.Selector, pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	e := env(c)
	if e["NEEDLE_GRPC_ADDR"].Value != fmt.Sprintf(":%d", ports["grpc"]) || e["NEEDLE_HTTP_ADDR"].Value != fmt.Sprintf(":%d", ports["http"]) {
		t.Errorf("listen addresses %q %q do not match the container ports %v", e["NEEDLE_GRPC_ADDR"].Value, e["NEEDLE_HTTP_ADDR"].Value, ports)
	}
	if len(c.Command) != 1 || c.Command[0] != "/usr/local/bin/router" || len(c.Args) != 0 {
		t.Errorf("command %v args %v: the image's entrypoint flags would override NEEDLE_* settings", c.Command, c.Args)
	}

	// Native gRPC probes against the health service on the gRPC port.
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.GRPC == nil || p.GRPC.Port != ports["grpc"] {
			t.Errorf("%s probe %+v is not a gRPC probe on port %d", name, p, ports["grpc"])
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.GRPC != nil && (c.ReadinessProbe.GRPC.Service == nil || *c.ReadinessProbe.GRPC.Service != "needle.router.v1.RouterService") {
		t.Errorf("readiness asks for service %v, want needle.router.v1.RouterService", c.ReadinessProbe.GRPC.Service)
	}

	// Shutdown: preStop, then the drain, then the trace flush, all within the grace period.
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop sleep")
	}
	pre := c.Lifecycle.PreStop.Sleep.Seconds
	drain, export := seconds(t, e["NEEDLE_DRAIN_TIMEOUT"].Value), seconds(t, e["NEEDLE_EXPORT_TIMEOUT"].Value)
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g < pre+drain+export {
		grace := "unset"
		if g != nil {
			grace = strconv.FormatInt(*g, 10)
		}
		t.Errorf("grace period %s < preStop %d + drain %d + export %d", grace, pre, drain, export)
	}

	// No root, nothing writable but the scratch volume.
	psc, sc := pod.Spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context %+v may run as root", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || (sc.Privileged != nil && *sc.Privileged) {
		t.Errorf("container security context %+v", sc)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("the service account token is mounted: the router never talks to the API server")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: cpu and memory requests and a memory limit are needed", c.Resources)
	}
	if su := d.Spec.Strategy.RollingUpdate; su == nil || su.MaxUnavailable == nil || su.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update %+v may take capacity away", su)
	}

	// Services: a headless one for client-side gRPC balancing, a ClusterIP for HTTP.
	var headless, web *corev1.Service
	for _, s := range r.services {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			t.Errorf("Service %s does not select the pods", s.Name)
		}
		switch {
		case s.Spec.ClusterIP == corev1.ClusterIPNone:
			headless = s
		case s.Spec.Type == corev1.ServiceTypeClusterIP:
			web = s
		}
	}
	if headless == nil || len(headless.Spec.Ports) != 1 || headless.Spec.Ports[0].TargetPort.String() != "grpc" || headless.Spec.PublishNotReadyAddresses {
		t.Errorf("headless gRPC Service %+v", headless)
	}
	if web == nil || len(web.Spec.Ports) != 1 || web.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("HTTP Service %+v", web)
	}

	if r.hpa != nil {
		if d.Spec.Replicas != nil {
			t.Error("replicas set on the Deployment while an HPA scales it")
		}
		if ref := r.hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name {
			t.Errorf("HPA scales %v, not the Deployment %s", ref, d.Name)
		}
		if r.hpa.Spec.MinReplicas == nil || *r.hpa.Spec.MinReplicas < 2 {
			t.Error("HPA may go down to one replica: a drain or a node loss would stop the service")
		}
	}
	if r.pdb != nil {
		s, err := metav1.LabelSelectorAsSelector(r.pdb.Spec.Selector)
		if err != nil || !s.Matches(labels.Set(pod.Labels)) {
			t.Error("the PodDisruptionBudget does not select the pods")
		}
	}

	// Toolsets from a ConfigMap: mounted where NEEDLE_TOOLS_DIR says, each file valid JSON.
	if dir, ok := e["NEEDLE_TOOLS_DIR"]; ok {
		var vol string
		for _, m := range c.VolumeMounts {
			if m.MountPath == dir.Value {
				vol = m.Name
			}
		}
		var cmName string
		for _, v := range pod.Spec.Volumes {
			if v.Name == vol && v.ConfigMap != nil {
				cmName = v.ConfigMap.Name
			}
		}
		if cmName == "" {
			t.Fatalf("NEEDLE_TOOLS_DIR %s is not a mounted ConfigMap", dir.Value)
		}
		for _, cm := range r.cms {
			if cm.Name != cmName {
				continue
			}
			for k, v := range cm.Data {
				if !strings.HasSuffix(k, ".json") || !json.Valid([]byte(v)) {
					t.Errorf("toolset file %s is not a .json file of JSON: %s", k, v)
				}
			}
		}
	}
}

// options are the router's NEEDLE_* variables, read from the README's configuration table,
// which internal/server's TestREADMEConfigTable keeps equal to config.go.
func options(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "<!-- config:begin -->"), strings.Index(s, "<!-- config:end -->")
	if i < 0 || j < i {
		t.Fatal("README has no config table")
	}
	var out []string
	for _, m := range regexp.MustCompile("\\| `(NEEDLE_[A-Z0-9_]+)` \\|").FindAllStringSubmatch(s[i:j], -1) {
		out = append(out, m[1])
	}
	if len(out) < 20 {
		t.Fatalf("only %d options in the README table", len(out))
	}
	return out
}

func TestChartDefaults(t *testing.T) {
	r := render(t)
	invariants(t, r)
	if r.hpa == nil || r.pdb == nil {
		t.Error("HPA and PDB are on by default")
	}
	if r.sm != nil || len(r.cms) != 0 {
		t.Error("ServiceMonitor or ConfigMap without being asked for")
	}
	e := env(r.deploy.Spec.Template.Spec.Containers[0])
	for _, name := range []string{"NEEDLE_STORE", "NEEDLE_TOOLS_DIR", "NEEDLE_CLOUD_API_KEY", "OTEL_EXPORTER_OTLP_ENDPOINT", "NEEDLE_THRESHOLD"} {
		if _, ok := e[name]; ok {
			t.Errorf("%s set by default: the router's own default should apply", name)
		}
	}
}

// Every value set: each router option ends up in the container's environment, with the
// value given.
func TestChartEveryValue(t *testing.T) {
	var chartValues struct {
		Config map[string]any `json:"config"`
	}
	b, err := os.ReadFile(filepath.Join(chart, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &chartValues); err != nil {
		t.Fatal(err)
	}
	set := map[string]any{}
	for k := range chartValues.Config {
		set[k] = "v-" + k
	}
	set["captureMaxBytes"] = 67108864 // a YAML number must reach the router as written
	set["threshold"] = 0.99
	extra, _ := yaml.Marshal(map[string]any{"config": set})
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, extra, 0o644); err != nil {
		t.Fatal(err)
	}
	r := render(t, "testdata/full.yaml", path)
	invariants(t, r)
	c := r.deploy.Spec.Template.Spec.Containers[0]
	e := env(c)

	var missing []string
	for _, name := range options(t) {
		if _, ok := e[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("router settings not reachable from the chart's values: %v", missing)
	}
	for k, v := range set {
		name := "NEEDLE_" + strings.ToUpper(regexp.MustCompile(`([a-z0-9])([A-Z])`).ReplaceAllString(k, "${1}_${2}"))
		want := fmt.Sprint(v)
		if f, ok := v.(float64); ok {
			want = strconv.FormatFloat(f, 'f', -1, 64)
		}
		if got := e[name].Value; got != want {
			t.Errorf("config.%s = %v reaches the router as %s=%q", k, v, name, got)
		}
	}

	if got := e["NEEDLE_STORE"].Value; got != "etcd://etcd-0.etcd:2379,etcd-1.etcd:2379/needle-router" {
		t.Errorf("NEEDLE_STORE %q", got)
	}
	if k := e["NEEDLE_CLOUD_API_KEY"].ValueFrom; k == nil || k.SecretKeyRef == nil || k.SecretKeyRef.Name != "cloud-key" || k.SecretKeyRef.Key != "token" || e["NEEDLE_CLOUD_API_KEY"].Value != "" {
		t.Errorf("the cloud API key does not come from the Secret: %+v", e["NEEDLE_CLOUD_API_KEY"])
	}
	if e["OTEL_EXPORTER_OTLP_ENDPOINT"].Value != "http://otel-collector.observability:4317" {
		t.Errorf("OTel endpoint %+v", e["OTEL_EXPORTER_OTLP_ENDPOINT"])
	}
	if g := *r.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds; g < 10+45+3 {
		t.Errorf("grace %d", g)
	}
	if r.hpa != nil || r.deploy.Spec.Replicas == nil || *r.deploy.Spec.Replicas != 3 {
		t.Error("autoscaling off: no HPA, 3 replicas")
	}
	if len(r.cms) != 1 || len(r.cms[0].Data) != 2 {
		t.Fatalf("toolsets ConfigMap %+v", r.cms)
	}
	var lights []map[string]any
	if err := json.Unmarshal([]byte(r.cms[0].Data["lights.json"]), &lights); err != nil || len(lights) != 1 {
		t.Errorf("a toolset given as YAML is not its JSON: %v %s", err, r.cms[0].Data["lights.json"])
	}
	if r.sm == nil || len(r.sm.Spec.Endpoints) != 1 || r.sm.Spec.Endpoints[0].Port != "http" || r.sm.Spec.Endpoints[0].Path != "/metrics" || r.sm.Labels["release"] != "prometheus" {
		t.Errorf("ServiceMonitor %+v", r.sm)
	}
	if r.sm != nil {
		s, _ := metav1.LabelSelectorAsSelector(&r.sm.Spec.Selector)
		n := 0
		for _, svc := range r.services {
			if s.Matches(labels.Set(svc.Labels)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the ServiceMonitor selects %d Services, want the HTTP one", n)
		}
	}
}

// Values that contradict each other fail the render rather than deploy something else.
func TestChartRefusesTwoStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.yaml")
	if err := os.WriteFile(path, []byte("store:\n  url: etcd://a:1\n  existingSecret:\n    name: s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vals, err := values(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := template(vals); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("rendered with two store sources: %v", err)
	}
}

// The helm that `make helm` installs for people is the helm this test runs: one version, set
// in the Makefile and in go.mod (test binaries carry no module list to ask instead).
func TestHelmPinnedOnce(t *testing.T) {
	version := func(file, re string) string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(re).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s has no line matching %s", file, re)
		}
		return string(m[1])
	}
	mk := version("../../../Makefile", `(?m)^HELM_VERSION\s*:=\s*(\S+)`)
	mod := version("go.mod", `(?m)^\s*helm\.sh/helm/v4 (v\S+)`)
	if mk != mod {
		t.Errorf("the Makefile's HELM_VERSION %s is not the helm.sh/helm/v4 %s this test uses (go.mod)", mk, mod)
	}
}

package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/arcgate/arcgate/internal/app"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// manifests holds every object of deploy/*.yaml, decoded strictly.
type manifests struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
}

// kinds maps apiVersion/kind to a decoder into the typed object.
var kinds = map[string]func(m *manifests, doc []byte) (metav1.Object, error){
	"apps/v1/Deployment": func(m *manifests, doc []byte) (metav1.Object, error) {
		o := &appsv1.Deployment{}
		m.deployments = append(m.deployments, o)
		return o, yaml.UnmarshalStrict(doc, o)
	},
	"v1/Service": func(m *manifests, doc []byte) (metav1.Object, error) {
		o := &corev1.Service{}
		m.services = append(m.services, o)
		return o, yaml.UnmarshalStrict(doc, o)
	},
	"v1/ConfigMap": func(m *manifests, doc []byte) (metav1.Object, error) {
		o := &corev1.ConfigMap{}
		m.configMaps = append(m.configMaps, o)
		return o, yaml.UnmarshalStrict(doc, o)
	},
	"v1/Secret": func(m *manifests, doc []byte) (metav1.Object, error) {
		o := &corev1.Secret{}
		m.secrets = append(m.secrets, o)
		return o, yaml.UnmarshalStrict(doc, o)
	},
	"autoscaling/v2/HorizontalPodAutoscaler": func(m *manifests, doc []byte) (metav1.Object, error) {
		o := &autoscalingv2.HorizontalPodAutoscaler{}
		m.hpas = append(m.hpas, o)
		return o, yaml.UnmarshalStrict(doc, o)
	},
	"policy/v1/PodDisruptionBudget": func(m *manifests, doc []byte) (metav1.Object, error) {
		o := &policyv1.PodDisruptionBudget{}
		m.pdbs = append(m.pdbs, o)
		return o, yaml.UnmarshalStrict(doc, o)
	},
}

// docSep splits a YAML stream into documents.
var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decode decodes every document of data strictly into m.
func decode(m *manifests, name string, data []byte) error {
	for i, doc := range docSep.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return fmt.Errorf("%s document %d: %w", name, i, err)
		}
		dec, ok := kinds[tm.APIVersion+"/"+tm.Kind]
		if !ok {
			return fmt.Errorf("%s document %d: apiVersion %q kind %q is not one the test knows", name, i, tm.APIVersion, tm.Kind)
		}
		obj, err := dec(m, []byte(doc))
		if err != nil {
			return fmt.Errorf("%s document %d (%s): %w", name, i, tm.Kind, err)
		}
		if errs := validation.IsDNS1123Subdomain(obj.GetName()); len(errs) > 0 {
			return fmt.Errorf("%s: name %q: %v", name, obj.GetName(), errs)
		}
		if obj.GetLabels()["app.kubernetes.io/name"] != "arcgate" {
			return fmt.Errorf("%s: %s %s lacks the label app.kubernetes.io/name=arcgate", name, tm.Kind, obj.GetName())
		}
	}
	return nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func load(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := &manifests{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := decode(m, f, data); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.deployments) != 1 || len(m.hpas) != 1 || len(m.secrets) != 1 || len(m.configMaps) != 1 || len(m.services) == 0 {
		t.Fatalf("want one Deployment, HPA, Secret and ConfigMap and some Services; got %d, %d, %d, %d, %d",
			len(m.deployments), len(m.hpas), len(m.secrets), len(m.configMaps), len(m.services))
	}
	return m
}

// TestStrictDecoding proves that the decoder rejects what kubectl would:
// unknown fields, misspelt fields, wrong types and duplicate keys.
func TestStrictDecoding(t *testing.T) {
	good := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: arcgate-config\n  labels:\n    app.kubernetes.io/name: arcgate\ndata:\n  A: b\n"
	if err := decode(&manifests{}, "good", []byte(good)); err != nil {
		t.Fatalf("good manifest rejected: %v", err)
	}
	for name, doc := range map[string]string{
		"unknown field": good + "bogus: 1\n",
		"misspelt field": strings.Replace(`apiVersion: apps/v1
kind: Deployment
metadata: {name: arcgate, labels: {app.kubernetes.io/name: arcgate}}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers:
        - name: a
          image: a
          readinessProbe: {httpGet: {path: /healthz, port: 8080}}
`, "readinessProbe", "readynessProbe", 1),
		"wrong type":     "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {app.kubernetes.io/name: arcgate}}\nspec: {ports: [{port: eighty}]}\n",
		"bad quantity":   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, labels: {app.kubernetes.io/name: arcgate}}\nspec: {template: {spec: {containers: [{name: a, resources: {requests: {cpu: lots}}}]}}}\n",
		"duplicate key":  good + "data:\n  C: d\n",
		"unknown kind":   "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n",
		"bad name":       strings.Replace(good, "name: arcgate-config", "name: Arcgate_Config", 1),
		"missing labels": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
	} {
		if err := decode(&manifests{}, name, []byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestManifests(t *testing.T) {
	m := load(t)
	d := m.deployments[0]
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]

	t.Run("selector matches the pod labels", func(t *testing.T) {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment selector %v does not select its pods %v", d.Spec.Selector, d.Spec.Template.Labels)
		}
		for _, s := range m.services {
			if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(s.Spec.Selector) == 0 {
				t.Errorf("Service %s selector %v does not select the pods", s.Name, s.Spec.Selector)
			}
		}
		for _, p := range m.pdbs {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("PodDisruptionBudget %s does not select the pods", p.Name)
			}
		}
	})

	t.Run("non-root, read-only, no capabilities", func(t *testing.T) {
		psc, sc := pod.SecurityContext, c.SecurityContext
		if psc == nil || sc == nil {
			t.Fatal("no securityContext")
		}
		if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Error("runAsNonRoot is not true for the pod and the container")
		}
		if psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Error("runAsUser is root or unset")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Error("readOnlyRootFilesystem is not true")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation is not false")
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("capabilities %+v, want drop [ALL] and no add", sc.Capabilities)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Error("privileged")
		}
		if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Error("no RuntimeDefault seccomp profile")
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Error("the service account token is mounted; arcgate does not call the Kubernetes API")
		}
	})

	t.Run("password from a mounted Secret file", func(t *testing.T) {
		env := map[string]string{}
		for _, e := range c.Env {
			if e.Name == "ARCGATE_PASSWORD" || (e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil) {
				t.Errorf("env %s passes a secret as an environment variable", e.Name)
			}
			env[e.Name] = e.Value
		}
		for _, cm := range m.configMaps {
			for k, v := range cm.Data {
				if strings.Contains(strings.ToLower(k), "password") && k != "ARCGATE_PASSWORD_FILE" {
					t.Errorf("ConfigMap %s holds %s", cm.Name, k)
				}
				if strings.Contains(v, "REPLACE-ME") {
					t.Errorf("ConfigMap %s holds the Secret's placeholder", cm.Name)
				}
			}
		}
		file := env["ARCGATE_PASSWORD_FILE"]
		if file == "" {
			t.Fatal("ARCGATE_PASSWORD_FILE is not set")
		}
		if !secretFile(t, pod, c, m.secrets[0], file) {
			t.Errorf("ARCGATE_PASSWORD_FILE=%s is not a key of Secret %s mounted read-only", file, m.secrets[0].Name)
		}
	})

	t.Run("caller authentication with an upstream", func(t *testing.T) {
		// Outside demo mode arcgate refuses to start without a callers file
		// or ARCGATE_INSECURE_NO_CALLER_AUTH=true.
		env := map[string]string{}
		for _, cm := range m.configMaps {
			for k, v := range cm.Data {
				env[k] = v
			}
		}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if env["ARCGATE_UPSTREAM_URL"] == "" || env["ARCGATE_INSECURE_NO_CALLER_AUTH"] == "true" {
			return
		}
		file := env["ARCGATE_CALLERS_FILE"]
		if file == "" {
			t.Fatal("ARCGATE_UPSTREAM_URL is set without ARCGATE_CALLERS_FILE: arcgate would refuse to start")
		}
		if !secretFile(t, pod, c, m.secrets[0], file) {
			t.Errorf("ARCGATE_CALLERS_FILE=%s is not a key of Secret %s mounted read-only", file, m.secrets[0].Name)
		}
	})

	t.Run("every ARCGATE_ variable is one arcgate reads", func(t *testing.T) {
		var src []byte
		for _, f := range []string{"../cmd/arcgate/main.go", "../cmd/arcgate/settings.go"} {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src = append(src, b...)
		}
		names := []string{}
		for _, e := range c.Env {
			names = append(names, e.Name)
		}
		for _, cm := range m.configMaps {
			for k := range cm.Data {
				names = append(names, k)
			}
		}
		for _, n := range names {
			// A variable of a setting is named after its flag (cmd/arcgate's
			// envName): ARCGATE_CALLERS_FILE is --callers-file's.
			flagName := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(n, "ARCGATE_"), "_", "-"))
			if strings.HasPrefix(n, "ARCGATE_") && !bytes.Contains(src, []byte(`"`+n+`"`)) && !bytes.Contains(src, []byte(`"`+flagName+`"`)) {
				t.Errorf("%s is not read by cmd/arcgate", n)
			} else if !strings.HasPrefix(n, "ARCGATE_") && !strings.HasPrefix(n, "OTEL_") && n != "GOMEMLIMIT" {
				t.Errorf("%s is neither an ARCGATE_ nor an OTEL_ variable, nor GOMEMLIMIT", n)
			}
		}
		// GOMEMLIMIT, the Go runtime's soft memory limit, must follow the
		// container's memory limit rather than be a number that can drift
		// from it.
		for _, e := range c.Env {
			if e.Name != "GOMEMLIMIT" {
				continue
			}
			if e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil || e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
				t.Errorf("GOMEMLIMIT must come from the container's limits.memory (downward API)")
			}
			if _, ok := c.Resources.Limits["memory"]; !ok {
				t.Errorf("GOMEMLIMIT follows limits.memory, but the container sets no memory limit")
			}
		}
		refs := map[string]bool{}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil {
				refs[ef.ConfigMapRef.Name] = true
			}
		}
		for _, cm := range m.configMaps {
			if !refs[cm.Name] {
				t.Errorf("ConfigMap %s is not used by the container", cm.Name)
			}
		}
	})

	t.Run("ports match the listen addresses", func(t *testing.T) {
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		ports := map[string]int32{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		for name, key := range map[string]string{"http": "ARCGATE_HTTP_ADDR", "grpc": "ARCGATE_GRPC_ADDR"} {
			host, port, err := net.SplitHostPort(env[key])
			if err != nil || host != "" || port != strconv.Itoa(int(ports[name])) {
				t.Errorf("%s=%q, want all interfaces on the %s port %d", key, env[key], name, ports[name])
			}
		}
		for _, s := range m.services {
			for _, p := range s.Spec.Ports {
				if p.TargetPort.Type != intstr.String || ports[p.TargetPort.StrVal] == 0 {
					t.Errorf("Service %s port %s targets %v, not a named container port", s.Name, p.Name, p.TargetPort.String())
				}
			}
		}
	})

	t.Run("HPA scales the Deployment on CPU it requests", func(t *testing.T) {
		h := m.hpas[0]
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name || h.Spec.ScaleTargetRef.APIVersion != "apps/v1" {
			t.Errorf("HPA targets %+v", h.Spec.ScaleTargetRef)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("HPA replicas %v..%d", h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
			t.Error("no CPU request: a CPU utilization target needs one")
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			t.Error("no memory limit")
		}
	})

	t.Run("probes on endpoints arcgate serves", func(t *testing.T) {
		if c.ReadinessProbe == nil || c.LivenessProbe == nil {
			t.Fatal("readiness and liveness probes are required")
		}
		// Start a real arcgate (demo mode) and run each probe against it.
		a, err := app.Start(app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{}
		defer func() {
			tr.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = a.Shutdown(ctx)
		}()
		addrOf := func(port intstr.IntOrString) string {
			for _, p := range c.Ports {
				if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
					switch p.Name {
					case "http":
						return a.HTTPAddr
					case "grpc":
						return a.GRPCAddr
					}
				}
			}
			t.Fatalf("probe port %v is not a container port", port.String())
			return ""
		}
		for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			switch {
			case p.HTTPGet != nil:
				resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + addrOf(p.HTTPGet.Port) + p.HTTPGet.Path)
				if err != nil {
					t.Fatalf("%s probe: %v", name, err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s probe GET %s: %d", name, p.HTTPGet.Path, resp.StatusCode)
				}
			case p.GRPC != nil:
				conn, err := grpc.NewClient(addrOf(intstr.FromInt32(p.GRPC.Port)), grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Fatal(err)
				}
				svc := ""
				if p.GRPC.Service != nil {
					svc = *p.GRPC.Service
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: svc})
				cancel()
				_ = conn.Close()
				if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
					t.Errorf("%s gRPC probe: %v %v", name, resp, err)
				}
			default:
				t.Errorf("%s probe is neither httpGet nor grpc", name)
			}
		}
	})
}

// secretFile reports whether file is a key of secret in a volume that c
// mounts, and checks that the mount is read-only and the files are not
// readable by others.
func secretFile(t *testing.T, pod corev1.PodSpec, c corev1.Container, secret *corev1.Secret, file string) bool {
	t.Helper()
	found := false
	for _, vm := range c.VolumeMounts {
		if !strings.HasPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			continue
		}
		if !vm.ReadOnly {
			t.Errorf("volume %s is mounted writable", vm.Name)
		}
		rel := strings.TrimPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		for _, v := range pod.Volumes {
			if v.Name != vm.Name || v.Secret == nil {
				continue
			}
			if v.Secret.SecretName != secret.Name {
				t.Errorf("volume %s mounts Secret %q, want %q", v.Name, v.Secret.SecretName, secret.Name)
			}
			for _, it := range v.Secret.Items {
				_, inData := secret.Data[it.Key]
				_, inString := secret.StringData[it.Key]
				if it.Path == rel && (inData || inString) {
					found = true
				}
			}
			if mode := v.Secret.DefaultMode; mode == nil || *mode&0o007 != 0 {
				t.Errorf("Secret volume mode %v is readable by others", mode)
			}
		}
	}
	return found
}

// TestDockerfile checks the image recipe: multi-stage, a static binary
// stamped with the version through the linker flag that internal/version
// reads, a distroless base pinned by tag, a non-root user, and a Go
// builder of the version go.mod names.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(gomod))
	if goVer == nil {
		t.Fatal("no go directive in go.mod")
	}
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("not multi-stage: %v", froms)
	}
	final := froms[len(froms)-1][1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") || !strings.Contains(final, ":nonroot") {
		t.Errorf("final base %q, want a distroless static image pinned to its :nonroot tag", final)
	}
	for _, want := range []string{
		"CGO_ENABLED=0",
		"-X github.com/arcgate/arcgate/internal/version.Version=${VERSION}",
		"-trimpath",
		"./cmd/arcgate",
		"USER nonroot",
		"ARCGATE_HTTP_ADDR=:8080",
		"ARCGATE_GRPC_ADDR=:9090",
		`ENTRYPOINT ["/arcgate"]`,
		"FROM golang:" + goVer[1],
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "node_modules", "third_party"} {
		if !strings.Contains(string(ignore), want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

// TestRedisManifests checks the optional Redis of deploy/redis/: strict
// like the others, selected by its own Service only (not by arcgate's, nor
// arcgate's pods by it), locked down like arcgate's pod, and named by the
// ARCGATE_STATE_STORE that deployment.yaml suggests.
func TestRedisManifests(t *testing.T) {
	data, err := os.ReadFile("redis/redis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := &manifests{}
	if err := decode(r, "redis/redis.yaml", data); err != nil {
		t.Fatal(err)
	}
	if len(r.deployments) != 1 || len(r.services) != 1 || len(r.configMaps)+len(r.secrets)+len(r.hpas)+len(r.pdbs) != 0 {
		t.Fatalf("want one Deployment and one Service in redis/redis.yaml")
	}
	m := load(t)
	d, svc := r.deployments[0], r.services[0]
	redisPods, arcgatePods := labels.Set(d.Spec.Template.Labels), labels.Set(m.deployments[0].Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(redisPods) || sel.Matches(arcgatePods) {
		t.Errorf("Deployment selector %v: want it to select its pods only", d.Spec.Selector)
	}
	if s := labels.SelectorFromSet(svc.Spec.Selector); len(svc.Spec.Selector) == 0 || !s.Matches(redisPods) || s.Matches(arcgatePods) {
		t.Errorf("Service %s selector %v: want the Redis pods only", svc.Name, svc.Spec.Selector)
	}
	for _, s := range m.services {
		if labels.SelectorFromSet(s.Spec.Selector).Matches(redisPods) {
			t.Errorf("arcgate's Service %s selects the Redis pods", s.Name)
		}
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
		pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the Redis pod is not locked down as arcgate's is: non-root, read-only root, no capabilities, no escalation, RuntimeDefault seccomp, no service-account token")
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Error("readiness and liveness probes are required")
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit")
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.Type != intstr.String || ports[svc.Spec.Ports[0].TargetPort.StrVal] == 0 {
		t.Fatalf("Service %s ports %v: want one, targeting a named container port", svc.Name, svc.Spec.Ports)
	}
	dep, err := os.ReadFile("deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("redis://%s:%d/0", svc.Name, svc.Spec.Ports[0].Port)
	if !bytes.Contains(dep, []byte("ARCGATE_STATE_STORE")) || !bytes.Contains(dep, []byte(want)) {
		t.Errorf("deployment.yaml does not suggest ARCGATE_STATE_STORE=%s", want)
	}
}

package etcdstore_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/registry/etcdstore"
	"github.com/needle-router/needle/internal/registry/etcdstore/etcdtest"
)

const oneTool = `[{"name":"set_timer","description":"Timer","parameters":{"minutes":{"type":"integer","required":true}}}]`

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in, err string
		want    etcdstore.Config
	}{
		{in: "etcd://127.0.0.1:2379", want: etcdstore.Config{Endpoints: []string{"127.0.0.1:2379"}, Prefix: "/needle-router/"}},
		{in: "etcd://a:1,b:2/team/x/", want: etcdstore.Config{Endpoints: []string{"a:1", "b:2"}, Prefix: "/team/x/"}},
		{in: "etcds://u:p@h:2379/p?ca=/ca.pem&cert=/c.pem&key=/k.pem", want: etcdstore.Config{Endpoints: []string{"h:2379"}, Prefix: "/p/", Username: "u", Password: "p", TLS: true, CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem"}},
		{in: "redis://h:1", err: "scheme"},
		{in: "etcd://h", err: "no port"},
		{in: "etcd:///p", err: "no host"},
		{in: "etcd://h:1?ca=/x", err: "etcds"},
		{in: "etcds://h:1?cert=/x", err: "together"},
		{in: "etcd://h:1?foo=1", err: "unknown parameter"},
	} {
		got, err := etcdstore.ParseURL(c.in)
		if c.err != "" {
			if err == nil || !contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !equal(got, c.want) {
			t.Errorf("%s: %+v %v, want %+v", c.in, got, err, c.want)
		}
	}
	if _, err := etcdstore.ParseURL("etcd://u:secret@h"); err == nil || contains(err.Error(), "secret") {
		t.Errorf("error %v shows the password or is missing", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// transitions records OnStale calls, which come from the registry's watch goroutine.
type transitions struct {
	mu  sync.Mutex
	got []bool
}

func (tr *transitions) add(s bool) { tr.mu.Lock(); tr.got = append(tr.got, s); tr.mu.Unlock() }

func (tr *transitions) list() []bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]bool(nil), tr.got...)
}

func equal(a, b etcdstore.Config) bool {
	if len(a.Endpoints) != len(b.Endpoints) {
		return false
	}
	for i := range a.Endpoints {
		if a.Endpoints[i] != b.Endpoints[i] {
			return false
		}
	}
	a.Endpoints, b.Endpoints = nil, nil
	return a.Prefix == b.Prefix && a.Username == b.Username && a.Password == b.Password && a.TLS == b.TLS &&
		a.CAFile == b.CAFile && a.CertFile == b.CertFile && a.KeyFile == b.KeyFile
}

func open(t *testing.T, url string) *etcdstore.Store {
	t.Helper()
	cfg, err := etcdstore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	s, err := etcdstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Versions are mod revisions; conditional writes compare them in one transaction.
func TestStoreConditionalWrites(t *testing.T) {
	srv := etcdtest.Start(t)
	s := open(t, srv.URL)
	defer s.Close()
	ctx := context.Background()
	v1, err := s.Put(ctx, "a", []byte("1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.Put(ctx, "a", []byte("2"), v1)
	if err != nil || v2 <= v1 {
		t.Fatalf("conditional put: %d %v", v2, err)
	}
	if _, err := s.Put(ctx, "a", []byte("3"), v1); !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("stale etag: %v", err)
	}
	if _, err := s.Put(ctx, "b", []byte("3"), v1); !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("etag of a missing key: %v", err)
	}
	if _, err := s.Delete(ctx, "a", v1); !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("delete with a stale etag: %v", err)
	}
	if _, err := s.Delete(ctx, "b", v1); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("conditional delete of a missing key: %v", err)
	}
	if _, err := s.Delete(ctx, "a", v2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "a", 0); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	entries, rev, err := s.Load(ctx)
	if err != nil || len(entries) != 0 || rev < v2 {
		t.Fatalf("load: %v %d %v", entries, rev, err)
	}
}

// The propagation bound the README states for a reachable store.
const propagationBound = time.Second

// Two registries (replicas) over one etcd: a put and a delete through one reach the other
// within the bound; with etcd stopped both keep serving, say they are stale and refuse writes
// with ErrStoreUnavailable; after it restarts they converge and follow again.
func TestReplicasShareToolsets(t *testing.T) {
	srv := etcdtest.Start(t)
	var staleA, staleB transitions
	a, err := registry.Open(registry.Config{Store: open(t, srv.URL), OnStale: staleA.add})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := registry.Open(registry.Config{Store: open(t, srv.URL), OnStale: staleB.add})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	var lags []time.Duration
	for i := 0; i < 5; i++ {
		start := time.Now()
		ts, err := a.Put("kitchen", []byte(oneTool), "", start)
		if err != nil {
			t.Fatal(err)
		}
		lags = append(lags, waitUntil(t, func() bool { got, err := b.Get("kitchen"); return err == nil && got.Version == ts.Version }, start))
	}
	start := time.Now()
	if err := b.Delete("kitchen"); err != nil {
		t.Fatal(err)
	}
	lags = append(lags, waitUntil(t, func() bool { _, err := a.Get("kitchen"); return errors.Is(err, registry.ErrNotFound) }, start))
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	t.Logf("propagation over %d changes: median %v, max %v (bound %v)", len(lags), lags[len(lags)/2], lags[len(lags)-1], propagationBound)
	if lags[len(lags)-1] > propagationBound {
		t.Fatalf("a change took %v to reach the other replica, over the %v bound", lags[len(lags)-1], propagationBound)
	}

	if _, err := a.Put("stays", []byte(oneTool), "", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, err := b.Get("stays"); return err == nil }, time.Now())
	srv.Stop()
	down := time.Now()
	for _, r := range []*registry.Registry{a, b} {
		// Probe interval + probe timeout (1s + 1s), with room for a loaded machine.
		d := waitUntilWithin(t, 5*time.Second, func() bool { return r.Health().Stale }, down)
		t.Logf("stale %v after the store stopped", d)
		if _, err := r.Get("stays"); err != nil {
			t.Fatalf("a replica stopped serving when the store went away: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.PutContext(ctx, "new", []byte(oneTool), "", time.Now(), 0); !errors.Is(err, registry.ErrStoreUnavailable) {
		t.Fatalf("put with the store down: %v", err)
	}
	if err := b.DeleteContext(ctx, "stays", 0); !errors.Is(err, registry.ErrStoreUnavailable) {
		t.Fatalf("delete with the store down: %v", err)
	}

	srv.Restart()
	up := time.Now()
	for _, r := range []*registry.Registry{a, b} {
		d := waitUntilWithin(t, 10*time.Second, func() bool { return !r.Health().Stale }, up)
		t.Logf("in step %v after the store answered again", d)
	}
	start = time.Now()
	if _, err := b.Put("after", []byte(oneTool), "", start); err != nil {
		t.Fatal(err)
	}
	if d := waitUntil(t, func() bool { _, err := a.Get("after"); return err == nil }, start); d > propagationBound {
		t.Fatalf("after the restart a change took %v", d)
	}
	if sa, sb := staleA.list(), staleB.list(); len(sa) != 2 || !sa[0] || sa[1] || len(sb) != 2 {
		t.Fatalf("stale transitions a %v b %v", sa, sb)
	}
}

func waitUntil(t *testing.T, cond func() bool, start time.Time) time.Duration {
	t.Helper()
	return waitUntilWithin(t, 10*time.Second, cond, start)
}

func waitUntilWithin(t *testing.T, limit time.Duration, cond func() bool, start time.Time) time.Duration {
	t.Helper()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("not within %v", limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

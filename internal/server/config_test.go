package server

import (
	"strings"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/registry"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// --store takes an etcd URL and excludes --data-dir.
func TestStoreSetting(t *testing.T) {
	c, err := Load([]string{"--store", "etcd://127.0.0.1:2379/team"}, env(nil))
	if err != nil || c.Store != "etcd://127.0.0.1:2379/team" {
		t.Fatalf("%+v %v", c.Store, err)
	}
	if _, err := Load(nil, env(map[string]string{"NEEDLE_STORE": "etcd://127.0.0.1:2379"})); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--store", "redis://h:1"},
		{"--store", "etcd://h"},
		{"--store", "etcd://h:1", "--data-dir", "/tmp/x"},
	} {
		if _, err := Load(args, env(nil)); err == nil || !strings.Contains(err.Error(), "--store") {
			t.Errorf("%v: %v, want an error naming --store", args, err)
		}
	}
}

func TestToolsetsDetail(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		h    registry.Health
		want string
	}{
		{registry.Health{Store: "memory"}, "toolsets: in step with the memory store at revision 0"},
		{registry.Health{Store: "bbolt /d/toolsets.db", Revision: 7}, "toolsets: in step with the bbolt store at revision 7"},
		{registry.Health{Store: "etcd://10.0.0.1:2379/x", Revision: 9}, "toolsets: in step with the shared store at revision 9"},
		{registry.Health{Store: "etcd://10.0.0.1:2379/x", Revision: 9, Stale: true, Since: since, Why: "dial tcp 10.0.0.1:2379: refused"},
			"toolsets: stale since 2026-01-02T03:04:05Z: the shared store does not answer; serving the toolsets of store revision 9; writes fail with UNAVAILABLE"},
	} {
		got := toolsetsDetail(c.h)
		if got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
		if strings.Contains(got, "10.0.0.1") {
			t.Errorf("the public health detail shows the store's address: %s", got)
		}
	}
}

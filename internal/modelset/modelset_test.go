package modelset

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/modelname"
)

// fake is a model whose identity is its config file's text.
type fake struct{ id string }

func (f *fake) Decode(context.Context, decode.Request) (*decode.Result, error) {
	return &decode.Result{}, nil
}
func (f *fake) Embed(context.Context, string) ([]float32, error) { return []float32{1}, nil }

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock               { c := &clock{}; c.ns.Store(int64(time.Hour)); return c }

// fixture is a models root with a fake loader: a model's bytes are the length of its
// weights file, and a config that says "broken" does not load.
type fixture struct {
	root  string
	loads atomic.Int32
	clk   *clock
	set   *Set
	evts  sync.Map   // event -> *atomic.Int32
	hold  sync.Mutex // Load waits while a test holds it
}

func (f *fixture) write(t *testing.T, name, config string, weightBytes int) {
	t.Helper()
	dir := filepath.Join(f.root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Each file is written beside and renamed into place: a reload running meanwhile sees
	// the old file or the new one, never a truncated one (os.WriteFile truncates first, and
	// the fake loader, unlike the real one, would take an empty config for a model).
	for file, b := range map[string][]byte{"config.json": []byte(config), "model.safetensors": make([]byte, weightBytes), "tokenizer.model": []byte("tok")} {
		tmp := filepath.Join(dir, "."+file+".tmp")
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, file)); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) events(name string) int {
	v, ok := f.evts.Load(name)
	if !ok {
		return 0
	}
	return int(v.(*atomic.Int32).Load())
}

func newFixture(t *testing.T, budget int64) *fixture {
	f := &fixture{root: t.TempDir(), clk: newClock()}
	var err error
	f.set, err = New(Config{Root: f.root, Budget: budget, Now: f.clk.now, Default: &fake{"default"}, DefaultID: "needle-small@1",
		Load: func(fl Files) (Loaded, error) {
			f.hold.Lock()
			//lint:ignore SA2001 an empty critical section on purpose: Load waits while a test holds it
			f.hold.Unlock()
			f.loads.Add(1)
			if len(fl.Config) == 0 || strings.Contains(string(fl.Config), "broken") { // as the real loader refuses an empty config
				return Loaded{}, errors.New("config: broken")
			}
			return Loaded{Model: &fake{string(fl.Config)}, Bytes: int64(len(fl.Weights)), ID: string(fl.Config)}, nil
		},
		OnEvent: func(e string) {
			v, _ := f.evts.LoadOrStore(e, new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.set.Close() })
	return f
}

func idOf(l *Lease) string { return l.Model.(*fake).id }

func TestUnknownNames(t *testing.T) {
	f := newFixture(t, 1000)
	f.write(t, "a", "A", 10)
	if err := os.WriteFile(filepath.Join(t.TempDir(), "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"missing", "../a", "a/../a", "/etc", ".hidden", "-x", "a b", strings.Repeat("x", 129)} {
		_, err := f.set.Acquire(context.Background(), name)
		var me *Error
		if !errors.Is(err, ErrUnknown) || !errors.As(err, &me) || me.Name != name {
			t.Errorf("%q: got %v, want ErrUnknown naming it", name, err)
		}
	}
	// Without a root only the default exists.
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(context.Background(), "a"); !errors.Is(err, ErrUnknown) {
		t.Errorf("no root: %v", err)
	}
	l, err := s.Acquire(context.Background(), "")
	if err != nil || l.Model != nil || l.Name != modelname.Default {
		t.Errorf("default without a model: %+v %v", l, err)
	}
	l.Release()
}

// A symlink inside the root may name a sibling (the atomic swap), never a directory outside.
func TestSymlinks(t *testing.T) {
	f := newFixture(t, 1000)
	f.write(t, "v1", "V1", 10)
	outside := t.TempDir()
	f2 := &fixture{root: outside}
	f2.write(t, "x", "OUT", 10)
	if err := os.Symlink("v1", filepath.Join(f.root, "current")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "x"), filepath.Join(f.root, "escape")); err != nil {
		t.Fatal(err)
	}
	l, err := f.set.Acquire(context.Background(), "current")
	if err != nil || idOf(l) != "V1" {
		t.Fatalf("current -> v1: %v", err)
	}
	l.Release()
	if _, err := f.set.Acquire(context.Background(), "escape"); err == nil {
		t.Fatal("a symlink out of the root was followed")
	}
}

func TestDefaultIsNotCountedNorEvicted(t *testing.T) {
	f := newFixture(t, 100)
	for _, n := range []string{"", modelname.Default} {
		l, err := f.set.Acquire(context.Background(), n)
		if err != nil || idOf(l) != "default" || l.ID != "needle-small@1" || l.Name != modelname.Default {
			t.Fatalf("%q: %+v %v", n, l, err)
		}
		l.Release()
	}
	if st := f.set.Stats(); st.Bytes != 0 || st.Models != 0 {
		t.Errorf("the default counted: %+v", st)
	}
}

func TestIdenticalModelsShareOneInstance(t *testing.T) {
	f := newFixture(t, 1000)
	f.write(t, "kitchen", "K", 100)
	f.write(t, "kitchen-copy", "K", 100)
	f.write(t, "garden", "G", 100)
	a, err := f.set.Acquire(context.Background(), "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.set.Acquire(context.Background(), "kitchen-copy")
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.set.Acquire(context.Background(), "garden")
	if err != nil {
		t.Fatal(err)
	}
	if a.Model != b.Model || a.Digest != b.Digest || a.Name != "kitchen" || b.Name != "kitchen-copy" {
		t.Errorf("identical files, two instances: %+v %+v", a, b)
	}
	if c.Model == a.Model || c.Digest == a.Digest {
		t.Error("different files shared an instance")
	}
	if n := f.loads.Load(); n != 2 {
		t.Errorf("%d loads, want 2", n)
	}
	if st := f.set.Stats(); st.Models != 2 || st.Names != 3 || st.Bytes != 200 {
		t.Errorf("stats %+v", st)
	}
	for _, l := range []*Lease{a, b, c} {
		l.Release()
		l.Release() // twice is harmless
	}
	if st := f.set.Stats(); st.Models != 2 || st.Bytes != 200 {
		t.Errorf("released models dropped while still named: %+v", st)
	}
}

func TestBudgetEvictsTheLeastRecentlyUsedIdleModel(t *testing.T) {
	f := newFixture(t, 250)
	for _, n := range []string{"a", "b", "c"} {
		f.write(t, n, strings.ToUpper(n), 100)
	}
	use := func(name string) {
		t.Helper()
		l, err := f.set.Acquire(context.Background(), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		l.Release()
		f.clk.add(time.Millisecond)
	}
	use("a")
	use("b")
	use("a") // b is now the least recently used
	use("c")
	if st := f.set.Stats(); st.Models != 2 || st.Bytes != 200 {
		t.Fatalf("after c: %+v", st)
	}
	if f.events("evicted") != 1 {
		t.Fatalf("evictions %d", f.events("evicted"))
	}
	loads := f.loads.Load()
	use("a") // still loaded
	if f.loads.Load() != loads {
		t.Error("a was evicted, not b")
	}
	use("b") // loads again, evicting c (a was used after it)
	if f.loads.Load() != loads+1 {
		t.Error("b was not loaded again")
	}
	use("a")
	if f.loads.Load() != loads+1 {
		t.Error("a was evicted, not c")
	}
}

func TestModelsInUseAreNotEvicted(t *testing.T) {
	f := newFixture(t, 250)
	for _, n := range []string{"a", "b", "c"} {
		f.write(t, n, strings.ToUpper(n), 100)
	}
	a, _ := f.set.Acquire(context.Background(), "a")
	b, _ := f.set.Acquire(context.Background(), "b")
	_, err := f.set.Acquire(context.Background(), "c")
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("c with a and b in use: %v", err)
	}
	if idOf(a) != "A" || idOf(b) != "B" {
		t.Fatal("leases changed")
	}
	a.Release()
	// A budget refusal is not remembered: as soon as a model is free, c loads.
	c, err := f.set.Acquire(context.Background(), "c")
	if err != nil {
		t.Fatalf("c after a was released: %v", err)
	}
	c.Release()
	b.Release()
	if st := f.set.Stats(); st.Bytes > 250 {
		t.Errorf("over budget: %+v", st)
	}
}

func TestTooLargeIsRefusedBeforeReading(t *testing.T) {
	f := newFixture(t, 100)
	f.write(t, "big", "BIG", 101)
	_, err := f.set.Acquire(context.Background(), "big")
	if !errors.Is(err, ErrTooLarge) || f.loads.Load() != 0 {
		t.Errorf("got %v after %d loads", err, f.loads.Load())
	}
}

func TestFailedLoadIsRememberedUntilTheFilesChangeOrTimePasses(t *testing.T) {
	f := newFixture(t, 1000)
	f.write(t, "x", "broken", 10)
	for range 3 {
		if _, err := f.set.Acquire(context.Background(), "x"); !errors.Is(err, ErrLoad) {
			t.Fatalf("got %v", err)
		}
	}
	if n := f.loads.Load(); n != 1 {
		t.Errorf("a failing model was read %d times within FailedRetry", n)
	}
	f.clk.add(11 * time.Second)
	f.set.Acquire(context.Background(), "x")
	if n := f.loads.Load(); n != 2 {
		t.Errorf("not retried after FailedRetry: %d loads", n)
	}
	f.write(t, "x", "fixed", 12) // the size changes, so the stamp does
	l, err := f.set.Acquire(context.Background(), "x")
	if err != nil || idOf(l) != "fixed" {
		t.Fatalf("fixed files: %v", err)
	}
	l.Release()
}

// A model whose files change is reloaded in the background: requests in flight keep the old
// instance, later ones get the new one, and the old one is freed when its last request ends.
func TestChangedFilesReloadWithoutDroppingRequests(t *testing.T) {
	f := newFixture(t, 1000)
	f.write(t, "k", "v1", 100)
	old, err := f.set.Acquire(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, "k", "v2", 150)
	l, _ := f.set.Acquire(context.Background(), "k") // within Recheck: not looked at
	if idOf(l) != "v1" {
		t.Fatal("files checked before Recheck")
	}
	l.Release()
	f.clk.add(3 * time.Second)
	l, _ = f.set.Acquire(context.Background(), "k") // starts the reload, still on v1
	if idOf(l) != "v1" {
		t.Fatal("the request that noticed the change waited for it")
	}
	l.Release()
	f.set.Settle()
	l, _ = f.set.Acquire(context.Background(), "k")
	if idOf(l) != "v2" || f.events("reloaded") != 1 {
		t.Fatalf("after the reload: %s", idOf(l))
	}
	if idOf(old) != "v1" {
		t.Fatal("the lease in flight changed model")
	}
	if st := f.set.Stats(); st.Models != 2 || st.Bytes != 250 {
		t.Errorf("the old model is freed while in use: %+v", st)
	}
	old.Release()
	l.Release()
	if st := f.set.Stats(); st.Models != 1 || st.Bytes != 150 {
		t.Errorf("the old model outlived its last request: %+v", st)
	}
}

// A reload whose new version fits only by evicting the name's own idle old version: the name
// maps to the new version (it was left mapped to nothing, and the new instance held with no
// name, never freed).
func TestReloadThatEvictsItsOwnOldVersion(t *testing.T) {
	f := newFixture(t, 250)
	f.write(t, "k", "v1", 100)
	l, _ := f.set.Acquire(context.Background(), "k")
	l.Release()
	f.write(t, "k", "v2", 200) // 300 bytes with v1: v1 must go
	f.clk.add(3 * time.Second)
	f.hold.Lock() // the reload waits until v1 is idle again
	l, _ = f.set.Acquire(context.Background(), "k")
	l.Release()
	f.hold.Unlock()
	f.set.Settle()
	if st := f.set.Stats(); st.Models != 1 || st.Names != 1 || st.Bytes != 200 {
		t.Fatalf("after the reload: %+v", st)
	}
	loads := f.loads.Load()
	l, err := f.set.Acquire(context.Background(), "k")
	if err != nil || idOf(l) != "v2" || f.loads.Load() != loads {
		t.Fatalf("after the reload: %v %v, %d more loads", err, l, f.loads.Load()-loads)
	}
	l.Release()
	if n := f.set.names["k"].inst.names; n != 1 {
		t.Errorf("the new version counts %d names", n)
	}
}

func TestBrokenNewFilesKeepTheOldModel(t *testing.T) {
	f := newFixture(t, 1000)
	f.write(t, "k", "v1", 100)
	l, _ := f.set.Acquire(context.Background(), "k")
	l.Release()
	f.write(t, "k", "broken", 120)
	f.clk.add(3 * time.Second)
	l, _ = f.set.Acquire(context.Background(), "k")
	l.Release()
	f.set.Settle()
	loads := f.loads.Load()
	for range 3 {
		f.clk.add(3 * time.Second)
		l, err := f.set.Acquire(context.Background(), "k")
		if err != nil || idOf(l) != "v1" {
			t.Fatalf("broken new files: %v", err)
		}
		l.Release()
		f.set.Settle()
	}
	if f.loads.Load() != loads || f.events("reload_failed") != 1 {
		t.Errorf("the broken version was tried again: %d loads, %d failures", f.loads.Load()-loads, f.events("reload_failed"))
	}
}

// Concurrent requests over several models while their files change and the budget evicts:
// no request fails or sees a model other than one its name has had (run with -race). A
// reload while every other model is in use cannot fit the budget: that answer is ErrBudget,
// which callers retry (RESOURCE_EXHAUSTED with RetryInfo), so it is retried here too.
func TestConcurrentAcquireReloadEvict(t *testing.T) {
	f := newFixture(t, 350)
	names := []string{"a", "b", "c"}
	for _, n := range names {
		f.write(t, n, n+"1", 100)
	}
	// Each new version of b goes to a directory of its own and b's symlink is swapped to it
	// in one rename (README "Swapped without a restart"): a load never sees half a version.
	if err := os.Rename(filepath.Join(f.root, "b"), filepath.Join(f.root, "b.v1")); err != nil {
		t.Fatal(err)
	}
	publish := func(v int) {
		next := filepath.Join(f.root, "b.next")
		if err := os.Symlink(fmt.Sprintf("b.v%d", v), next); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(next, filepath.Join(f.root, "b")); err != nil {
			t.Fatal(err)
		}
	}
	publish(1)
	var wg sync.WaitGroup
	var failed atomic.Int32
	stop := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := names[(w+i)%len(names)]
				l, err := f.set.Acquire(context.Background(), n)
				if errors.Is(err, ErrBudget) {
					continue
				}
				if err != nil {
					failed.Add(1)
					t.Errorf("%s: %v", n, err)
					return
				}
				if id := idOf(l); !strings.HasPrefix(id, n) {
					t.Errorf("%s answered by %s", n, id)
				}
				l.Release()
			}
		}()
	}
	for v := 2; v <= 6; v++ {
		f.write(t, fmt.Sprintf("b.v%d", v), fmt.Sprintf("b%d", v), 100+v)
		publish(v)
		f.clk.add(3 * time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	f.set.Settle()
	l, err := f.set.Acquire(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	f.set.Settle()
	l.Release()
	f.clk.add(3 * time.Second)
	l, _ = f.set.Acquire(context.Background(), "b")
	l.Release()
	f.set.Settle()
	l, _ = f.set.Acquire(context.Background(), "b")
	if idOf(l) != "b6" {
		t.Errorf("b ended on %s, want b6", idOf(l))
	}
	l.Release()
	if st := f.set.Stats(); st.Bytes > 350 {
		t.Errorf("over budget: %+v", st)
	}
}

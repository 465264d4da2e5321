package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeShared is a SharedStore in memory whose watches the test drives: changes are
// delivered only when the test calls deliver, the store can be taken down, and every watch
// can be broken with a given error.
type fakeShared struct {
	*memStore
	mu       sync.Mutex
	down     bool
	log      []Change      // every change, in revision order
	signal   chan struct{} // closed (and replaced) to wake every watch
	breakErr error
	breakGen int
	watching int // watches running
}

func newFakeShared() *fakeShared {
	return &fakeShared{memStore: newMemStore(), signal: make(chan struct{})}
}

func (f *fakeShared) Describe() string { return "fake" }

func (f *fakeShared) isDown() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *fakeShared) Load(ctx context.Context) ([]Entry, int64, error) {
	if f.isDown() {
		return nil, 0, fmt.Errorf("%w: down", ErrStoreUnavailable)
	}
	return f.memStore.Load(ctx)
}

func (f *fakeShared) Put(ctx context.Context, name string, value []byte, ifVersion int64) (int64, error) {
	if f.isDown() {
		return 0, fmt.Errorf("%w: down", ErrStoreUnavailable)
	}
	v, err := f.memStore.Put(ctx, name, value, ifVersion)
	if err == nil {
		f.mu.Lock()
		f.log = append(f.log, Change{Name: name, Value: value, Version: v})
		f.mu.Unlock()
	}
	return v, err
}

func (f *fakeShared) Delete(ctx context.Context, name string, ifVersion int64) (int64, error) {
	if f.isDown() {
		return 0, fmt.Errorf("%w: down", ErrStoreUnavailable)
	}
	v, err := f.memStore.Delete(ctx, name, ifVersion)
	if err == nil {
		f.mu.Lock()
		f.log = append(f.log, Change{Name: name, Version: v})
		f.mu.Unlock()
	}
	return v, err
}

func (f *fakeShared) wakeLocked() {
	close(f.signal)
	f.signal = make(chan struct{})
}

// deliver lets every watch send the changes logged so far.
func (f *fakeShared) deliver() {
	f.mu.Lock()
	f.wakeLocked()
	f.mu.Unlock()
}

// breakWatch ends every current watch with err, and takes the store down when down.
func (f *fakeShared) breakWatch(err error, down bool) {
	f.mu.Lock()
	f.breakErr, f.down = err, down
	f.breakGen++
	f.wakeLocked()
	f.mu.Unlock()
}

func (f *fakeShared) up() {
	f.mu.Lock()
	f.down = false
	f.mu.Unlock()
}

func (f *fakeShared) Watch(ctx context.Context, after int64, apply func(int64, []Change)) error {
	f.mu.Lock()
	if f.down {
		f.mu.Unlock()
		return fmt.Errorf("%w: down", ErrStoreUnavailable)
	}
	gen, sig, sent := f.breakGen, f.signal, 0
	for sent < len(f.log) && f.log[sent].Version <= after {
		sent++
	}
	// Like etcd, a watch from a past revision first sends what it missed.
	missed := append([]Change(nil), f.log[sent:]...)
	sent = len(f.log)
	f.watching++
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.watching--; f.mu.Unlock() }()
	if len(missed) > 0 {
		apply(missed[len(missed)-1].Version, missed)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sig:
		}
		f.mu.Lock()
		if f.breakGen != gen {
			err := f.breakErr
			f.mu.Unlock()
			return err
		}
		batch := append([]Change(nil), f.log[sent:]...)
		sent, sig = len(f.log), f.signal
		f.mu.Unlock()
		if len(batch) > 0 {
			apply(batch[len(batch)-1].Version, batch)
		}
	}
}

func (f *fakeShared) Close() error { return nil }

// watches says how many watches are running (tests wait for the registries' to start).
func (f *fakeShared) watches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watching
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func has(r *Registry, name string) bool { _, err := r.Get(name); return err == nil }

// Two registries over one shared store: writes through one reach the other by the watch,
// a late watch event never undoes a newer local write, and deletes propagate.
func TestSharedStoreFollowsChanges(t *testing.T) {
	st := newFakeShared()
	a, err := Open(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitFor(t, "both watches", func() bool { return st.watches() == 2 })
	ts, err := a.Put("kitchen", []byte(oneTool), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ts.Version <= 0 || ETag(ts.Version) == "" {
		t.Fatalf("version %d", ts.Version)
	}
	if has(b, "kitchen") {
		t.Fatal("b has the toolset before the watch delivered it")
	}
	st.deliver()
	waitFor(t, "b to see the put", func() bool { return has(b, "kitchen") })
	got, _ := b.Get("kitchen")
	if got.Version != ts.Version {
		t.Fatalf("b has version %d, a wrote %d", got.Version, ts.Version)
	}

	// b deletes; a's watch then delivers its own old put and the delete in one batch: the
	// delete wins.
	if err := b.Delete("kitchen"); err != nil {
		t.Fatal(err)
	}
	if has(b, "kitchen") {
		t.Fatal("b still serves what it deleted")
	}
	st.deliver()
	waitFor(t, "a to see the delete", func() bool { return !has(a, "kitchen") })

	// a writes v2 and v3 locally; the watch then delivers v2 after a already serves v3.
	if _, err := a.Put("x", []byte(oneTool), "", time.Now()); err != nil {
		t.Fatal(err)
	}
	v3, err := a.Put("x", []byte(`[{"name":"other","parameters":{}}]`), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st.deliver()
	waitFor(t, "b to see x", func() bool { x, err := b.Get("x"); return err == nil && x.Version == v3.Version })
	if x, _ := a.Get("x"); x.Version != v3.Version || x.Tools[0].Spec.Name != "other" {
		t.Fatalf("a went back to an older write: version %d %s", x.Version, x.Tools[0].Spec.Name)
	}
}

// A conditional write with a stale etag is ErrConflict even on a replica that has not yet
// seen the newer write; a matching one succeeds.
func TestSharedStoreConditionalWrites(t *testing.T) {
	st := newFakeShared()
	a, _ := Open(Config{Store: st})
	defer a.Close()
	b, _ := Open(Config{Store: st})
	defer b.Close()
	v1, err := a.Put("s", []byte(oneTool), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutContext(context.Background(), "s", []byte(oneTool), "", time.Now(), v1.Version); err != nil {
		t.Fatalf("matching etag: %v", err)
	}
	// b read v1 (say, from an earlier Get) and writes with it: a wrote since.
	if _, err := b.PutContext(context.Background(), "s", []byte(oneTool), "", time.Now(), v1.Version); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale etag: %v, want ErrConflict", err)
	}
	if err := b.DeleteContext(context.Background(), "s", v1.Version); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete with stale etag: %v", err)
	}
	if _, err := b.PutContext(context.Background(), "new", []byte(oneTool), "", time.Now(), 7); !errors.Is(err, ErrConflict) {
		t.Fatalf("etag for a toolset that is not there: %v", err)
	}
	// Validation comes before the store: nothing is written.
	if _, err := a.PutContext(context.Background(), "bad", []byte(`[{"name":"x y"}]`), "", time.Now(), 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid: %v", err)
	}
	if entries, _, _ := st.Load(context.Background()); len(entries) != 1 {
		t.Fatalf("store holds %d entries", len(entries))
	}
}

// The store goes away: both replicas keep serving, say they are stale, writes fail with
// ErrStoreUnavailable; when it returns they list it again and converge, removing what was
// deleted while their watch was broken.
func TestSharedStoreOutageAndConvergence(t *testing.T) {
	st := newFakeShared()
	var mu sync.Mutex
	staleCalls := []bool{}
	a, err := Open(Config{Store: st, OnStale: func(s bool) { mu.Lock(); staleCalls = append(staleCalls, s); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Put("keep", []byte(oneTool), "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put("gone", []byte(oneTool), "", time.Now()); err != nil {
		t.Fatal(err)
	}
	st.deliver()

	st.breakWatch(fmt.Errorf("%w: probe failed", ErrStoreUnavailable), true)
	waitFor(t, "a to say it is stale", func() bool { return a.Health().Stale })
	h := a.Health()
	if h.Since.IsZero() || h.Why == "" {
		t.Fatalf("health %+v", h)
	}
	if !has(a, "keep") || !has(a, "gone") {
		t.Fatal("a stopped serving its toolsets when the store went away")
	}
	if _, err := a.Put("new", []byte(oneTool), "", time.Now()); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("put while down: %v", err)
	}
	if err := a.Delete("keep"); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("delete while down: %v", err)
	}

	// Another writer changed the store while a could not watch it (as after a partition, or
	// a compaction): a must pick it up from the listing.
	if _, err := st.memStore.Delete(context.Background(), "gone", 0); err != nil {
		t.Fatal(err)
	}
	rec, _ := encodeRecord([]byte(oneTool), "", time.Now())
	if _, err := st.memStore.Put(context.Background(), "added", rec, 0); err != nil {
		t.Fatal(err)
	}
	st.up()
	waitFor(t, "a to converge", func() bool { return !a.Health().Stale && has(a, "added") && !has(a, "gone") && has(a, "keep") })
	mu.Lock()
	defer mu.Unlock()
	if len(staleCalls) != 2 || !staleCalls[0] || staleCalls[1] {
		t.Fatalf("OnStale calls %v, want [true false]", staleCalls)
	}
}

// A shared store that does not answer at start is retried until it does or the context
// ends.
func TestSharedStoreUnreachableAtStart(t *testing.T) {
	st := newFakeShared()
	st.down = true
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := OpenContext(ctx, Config{Store: st}); err == nil {
		t.Fatal("opened with the store down")
	}
	go func() { time.Sleep(200 * time.Millisecond); st.up() }()
	r, err := OpenContext(context.Background(), Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := Open(Config{Store: st, DataDir: t.TempDir()}); err == nil {
		t.Fatal("a shared store and a data dir together were accepted")
	}
}

// The etag round-trips, and only etags this server could have issued parse.
func TestParseETag(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{{"", 0, true}, {"1", 1, true}, {"9007199254740993", 9007199254740993, true}, {"0", 0, false}, {"-3", 0, false}, {"01", 0, false}, {"+1", 0, false}, {"x", 0, false}} {
		v, err := ParseETag(c.in, "etag")
		if (err == nil) != c.ok || v != c.want {
			t.Errorf("ParseETag(%q) = %d, %v", c.in, v, err)
		}
		if c.ok && c.in != "" && ETag(v) != c.in {
			t.Errorf("ETag(%d) = %q", v, ETag(v))
		}
	}
}

// The embedded store versions its writes too, so etags work on one machine, and files
// written before versions existed get versions when opened.
func TestBoltVersions(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := r.Put("a", []byte(oneTool), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutContext(context.Background(), "a", []byte(oneTool), "", time.Now(), v1.Version+1); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale etag: %v", err)
	}
	v2, err := r.PutContext(context.Background(), "a", []byte(oneTool), "", time.Now(), v1.Version)
	if err != nil || v2.Version <= v1.Version {
		t.Fatalf("v2 %v %v", v2, err)
	}
	r.Close()
	r, err = Open(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Get("a")
	if err != nil || got.Version != v2.Version {
		t.Fatalf("after reopening: %v %v, want version %d", got, err, v2.Version)
	}
	if err := r.DeleteContext(context.Background(), "a", v1.Version); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete with stale etag: %v", err)
	}
	if err := r.DeleteContext(context.Background(), "a", v2.Version); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// A store restored from an older backup (its revision went back): the registry takes its
// listing as it is, not as older than what it had.
func TestSharedStoreReplaced(t *testing.T) {
	st := newFakeShared()
	r, err := Open(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, n := range []string{"a", "b", "c"} {
		if _, err := r.Put(n, []byte(oneTool), "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st.deliver()
	waitFor(t, "the watch to catch up", func() bool { return r.Health().Revision == 3 })
	// The replacement holds only "b", written once (revision 1), and a new "d" (revision 2).
	st.breakWatch(fmt.Errorf("%w: probe failed", ErrStoreUnavailable), true)
	fresh := newMemStore()
	rec, _ := encodeRecord([]byte(oneTool), "", time.Now())
	fresh.Put(context.Background(), "b", rec, 0)
	fresh.Put(context.Background(), "d", rec, 0)
	st.mu.Lock()
	st.memStore, st.log = fresh, nil
	st.mu.Unlock()
	st.up()
	waitFor(t, "the registry to take the replacement's toolsets", func() bool {
		return !r.Health().Stale && !has(r, "a") && has(r, "b") && !has(r, "c") && has(r, "d")
	})
	if h := r.Health(); h.Revision != 2 {
		t.Fatalf("revision %d, want the replacement's 2", h.Revision)
	}
}

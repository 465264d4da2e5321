package registry

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/singleflight"

	"github.com/needle-router/needle/internal/lexical"
	"github.com/needle-router/needle/internal/toolspec"
)

// ErrNotFound marks an unknown toolset.
var ErrNotFound = errors.New("registry: toolset not found")

// ErrReadOnly marks a toolset loaded from the tools directory: the API cannot replace or
// delete it.
var ErrReadOnly = errors.New("registry: toolset is read-only (loaded from the tools directory)")

// Toolset is a named, validated set of tools.
type Toolset struct {
	Name  string
	Tools []Tool
	Raw   json.RawMessage // the definitions as given, re-parsed on load
	// Model names the model the toolset's requests run on: a directory under the router's
	// models root (internal/modelset); empty for the process's default model.
	Model     string
	UpdatedAt time.Time
	// Version is the store's revision of the toolset's last write (its etag); 0 for a
	// toolset from the tools directory.
	Version int64
}

// Embedder turns text into a unit vector (the model's contrastive head).
type Embedder interface {
	Embed(ctx context.Context, text string) ([]float32, error)
}

// Config configures a Registry. The zero value is an in-memory registry with default limits.
type Config struct {
	// DataDir holds the embedded store (toolsets.db); empty keeps toolsets in memory only.
	DataDir string
	// Store, when set, is where toolsets live instead of DataDir: a store shared by every
	// replica (--store), watched so that a change made through any replica reaches this one.
	// The registry closes it.
	Store SharedStore
	// StoreTimeout bounds one write to Store and one listing of it (default 2s); the caller's
	// deadline, when sooner, wins.
	StoreTimeout time.Duration
	// ToolsDir is read at start: every *.json file becomes a toolset named after the file,
	// and NAME.model beside NAME.json, when present, names its model (one line).
	// File toolsets are read-only through the API and take precedence over stored toolsets
	// of the same name (which stay in the store, hidden, and are logged).
	ToolsDir string
	Limits   Limits
	// EmbedCache is the most tool embeddings kept (LRU; default 4096).
	EmbedCache int
	// Log receives a line per toolset skipped at start; default: discarded.
	Log *slog.Logger
	// OnSkip is called per toolset that fails to load at start (metrics).
	OnSkip func()
	// OnStale is called when the registry loses (true) or regains (false) sight of a shared
	// store's changes (metrics).
	OnStale func(stale bool)
	// OnDamaged is called once when the DataDir store file was damaged at start and has been
	// set aside and rebuilt from what could be read (metrics); Registry.Damage says more.
	OnDamaged func()
	// Now is the clock naming a damaged file set aside; default time.Now.
	Now func() time.Time
}

// Registry holds toolsets and caches tool embeddings. It is safe for concurrent use.
type Registry struct {
	cfg    Config
	store  Store
	shared SharedStore // nil: the store is this process's own
	what   string      // the store, for the health detail
	stop   context.CancelFunc
	done   chan struct{}
	// damage, when set, says the store file was damaged at start, what was done and what
	// was salvaged (health detail).
	damage string

	mu       sync.RWMutex
	sets     map[string]*Toolset
	readOnly map[string]bool
	// seen holds, per stored name, the revision of the last change applied to it, so a
	// change that arrives late (a watch event older than this replica's own write) is not
	// applied over a newer one. Deletes stay as tombstones until the watch has passed them.
	seen       map[string]seen
	rev        int64 // the store revision the registry is current at
	stale      bool
	staleSince time.Time
	staleWhy   string

	emb   *lru.Cache[[32]byte, []float32]
	words *lru.Cache[[32]byte, lexical.Doc]
	embSF singleflight.Group
}

type seen struct {
	rev     int64
	deleted bool
}

var bucket = []byte("toolsets")

// Damage says whether the store file was damaged at start and what was done about it
// ("" when it was sound, or the store is not a file of this process's own).
func (r *Registry) Damage() string { return r.damage }

// Open is OpenContext with a background context.
func Open(cfg Config) (*Registry, error) { return OpenContext(context.Background(), cfg) }

// OpenContext opens (or creates) the store, loads its toolsets and the tools directory, and
// with a shared store starts watching it. A stored toolset or file that no longer parses is
// skipped (logged, OnSkip) and the others serve. A damaged store file (salvage.go) never
// stops the start: it is set aside and rebuilt from every record that could be read
// (logged, OnDamaged, Damage). Errors are what no salvage fixes: a store or directory that
// cannot be read, locked or written. A shared store that does not answer is retried until it does or ctx ends (the
// router stays NOT_SERVING meanwhile: a replica without the toolsets would answer NOT_FOUND).
func OpenContext(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OnSkip == nil {
		cfg.OnSkip = func() {}
	}
	if cfg.OnStale == nil {
		cfg.OnStale = func(bool) {}
	}
	if cfg.OnDamaged == nil {
		cfg.OnDamaged = func() {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EmbedCache <= 0 {
		cfg.EmbedCache = 4096
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 2 * time.Second
	}
	emb, err := lru.New[[32]byte, []float32](cfg.EmbedCache)
	if err != nil {
		return nil, err
	}
	words, err := lru.New[[32]byte, lexical.Doc](cfg.EmbedCache)
	if err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, sets: map[string]*Toolset{}, readOnly: map[string]bool{}, seen: map[string]seen{}, emb: emb, words: words}
	skip := func(what, name string, err error) {
		cfg.Log.Error("toolset skipped: it does not load", "source", what, "toolset", name, "err", err.Error())
		cfg.OnSkip()
	}
	switch {
	case cfg.Store != nil && cfg.DataDir != "":
		return nil, errors.New("registry: a shared store and a data directory: choose one")
	case cfg.Store != nil:
		r.store, r.shared, r.what = cfg.Store, cfg.Store, cfg.Store.Describe()
	case cfg.DataDir != "":
		bs, damage, err := openBolt(cfg.DataDir, cfg.Now())
		if err != nil {
			return nil, err
		}
		r.store, r.what = bs, "bbolt "+bs.db.Path()
		if damage != "" {
			r.damage = damage
			cfg.Log.Error("toolset store damaged: serving what could be read", "detail", damage)
			cfg.OnDamaged()
		}
	default:
		r.store, r.what = newMemStore(), "memory"
	}
	entries, rev, err := r.load(ctx)
	if err != nil {
		r.store.Close()
		return nil, err
	}
	// The tools directory first, so that stored toolsets of the same name are hidden.
	if cfg.ToolsDir != "" {
		files, err := filepath.Glob(filepath.Join(cfg.ToolsDir, "*.json"))
		if err != nil {
			r.store.Close()
			return nil, err
		}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".json")
			b, err := os.ReadFile(f)
			if err != nil {
				skip("file", name, err)
				continue
			}
			tools, err := Parse(b, cfg.Limits, "tools")
			if err == nil && !setNameRE.MatchString(name) {
				err = fmt.Errorf("file name is not a valid toolset name (%s)", setNameRE)
			}
			var model string
			if err == nil {
				model, err = readModelFile(strings.TrimSuffix(f, ".json") + ".model")
			}
			if err != nil {
				skip("file", name, err)
				continue
			}
			st, _ := os.Stat(f)
			r.sets[name] = &Toolset{Name: name, Tools: tools, Raw: b, Model: model, UpdatedAt: st.ModTime()}
			r.readOnly[name] = true
		}
	}
	for _, e := range entries {
		if r.readOnly[e.Name] {
			cfg.Log.Warn("the tools directory's toolset hides the stored one of the same name", "toolset", e.Name)
		}
	}
	r.apply(r.prepare(entries, skip))
	r.rev = rev
	if r.shared != nil {
		fctx, cancel := context.WithCancel(context.Background())
		r.stop, r.done = cancel, make(chan struct{})
		go r.follow(fctx)
	}
	return r, nil
}

// load lists the store; a shared store is retried until it answers or ctx ends.
func (r *Registry) load(ctx context.Context) ([]Entry, int64, error) {
	for b := newBackoff(); ; {
		lctx, cancel := context.WithTimeout(ctx, r.cfg.StoreTimeout)
		entries, rev, err := r.store.Load(lctx)
		cancel()
		if err == nil || r.shared == nil {
			return entries, rev, err
		}
		r.cfg.Log.Warn("toolset store does not answer: retrying", "store", r.what, "err", err.Error())
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("registry: toolset store %s never answered: %w", r.what, err)
		case <-time.After(b.next()):
		}
	}
}

// change is a store entry parsed and ready to apply: ts nil for a delete or a toolset that
// no longer loads.
type change struct {
	name    string
	version int64
	ts      *Toolset
}

// prepare decodes and parses entries outside the lock (parsing costs up to milliseconds per
// tool). An entry already applied at the same version is not parsed again.
func (r *Registry) prepare(entries []Entry, skip func(what, name string, err error)) []change {
	out := make([]change, 0, len(entries))
	for _, e := range entries {
		c := change{name: e.Name, version: e.Version}
		r.mu.RLock()
		cur, have := r.sets[e.Name]
		r.mu.RUnlock()
		if have && cur.Version == e.Version && e.Value != nil {
			c.ts = cur
			out = append(out, c)
			continue
		}
		if e.Value != nil {
			rec, err := decodeRecord(e.Value)
			var tools []Tool
			if err == nil {
				tools, err = Parse(rec.Raw, r.cfg.Limits, "tools")
			}
			if err != nil {
				skip("store", e.Name, err)
			} else {
				c.ts = &Toolset{Name: e.Name, Tools: tools, Raw: rec.Raw, Model: rec.Model, UpdatedAt: rec.UpdatedAt, Version: e.Version}
			}
		}
		out = append(out, c)
	}
	return out
}

// apply makes changes visible unless a newer change to the same name was applied already.
func (r *Registry) apply(changes []change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range changes {
		if s, ok := r.seen[c.name]; ok && s.rev >= c.version {
			continue
		}
		r.seen[c.name] = seen{rev: c.version, deleted: c.ts == nil}
		if r.readOnly[c.name] {
			continue // hidden by the tools directory
		}
		if c.ts == nil {
			delete(r.sets, c.name)
		} else {
			r.sets[c.name] = c.ts
		}
	}
}

// caughtUp records that every change through rev has been applied: older tombstones can
// no longer be overtaken by a late change.
func (r *Registry) caughtUp(rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev > r.rev {
		r.rev = rev
	}
	for name, s := range r.seen {
		if s.deleted && s.rev <= r.rev {
			delete(r.seen, name)
		}
	}
}

// follow keeps the registry in step with the shared store: it watches from the revision the
// registry is current at; when the watch breaks it marks the registry stale, lists the
// store again (with backoff) until it answers, applies the difference and watches again.
func (r *Registry) follow(ctx context.Context) {
	defer close(r.done)
	skip := func(what, name string, err error) {
		r.cfg.Log.Error("toolset skipped: it does not load", "source", what, "toolset", name, "err", err.Error())
		r.cfg.OnSkip()
	}
	for {
		r.mu.RLock()
		from := r.rev
		r.mu.RUnlock()
		err := r.shared.Watch(ctx, from, func(rev int64, changes []Change) {
			entries := make([]Entry, len(changes))
			for i, c := range changes {
				entries[i] = Entry(c)
			}
			r.apply(r.prepare(entries, skip))
			r.caughtUp(rev)
		})
		if ctx.Err() != nil {
			return
		}
		r.setStale(true, err, time.Now())
		for b := newBackoff(); ; {
			select {
			case <-ctx.Done():
				return
			case <-time.After(b.next()):
			}
			lctx, cancel := context.WithTimeout(ctx, r.cfg.StoreTimeout)
			entries, rev, err := r.store.Load(lctx)
			cancel()
			if err != nil {
				r.setStale(true, err, time.Now())
				continue
			}
			r.resync(entries, rev, skip)
			r.setStale(false, nil, time.Now())
			break
		}
	}
}

// resync applies a full listing at revision rev: entries newer than what was applied
// replace it, and stored toolsets missing from the listing (and not written after rev) are
// removed.
func (r *Registry) resync(entries []Entry, rev int64, skip func(what, name string, err error)) {
	r.mu.Lock()
	if rev < r.rev {
		// The store's revision went back: it was restored from a backup or replaced. Its
		// revisions are not comparable with ours any more, so its listing is taken as it is.
		r.cfg.Log.Warn("toolset store revision went back (restored or replaced): taking its toolsets as listed", "store", r.what, "was", r.rev, "now", rev)
		for name := range r.seen {
			if !r.readOnly[name] {
				delete(r.sets, name)
			}
		}
		r.seen, r.rev = map[string]seen{}, 0
	}
	r.mu.Unlock()
	r.apply(r.prepare(entries, skip))
	listed := make(map[string]bool, len(entries))
	for _, e := range entries {
		listed[e.Name] = true
	}
	var gone []change
	r.mu.RLock()
	for name, s := range r.seen {
		if !listed[name] && !s.deleted && s.rev <= rev {
			gone = append(gone, change{name: name, version: rev})
		}
	}
	r.mu.RUnlock()
	r.apply(gone)
	r.caughtUp(rev)
}

func (r *Registry) setStale(stale bool, err error, now time.Time) {
	r.mu.Lock()
	was := r.stale
	r.stale = stale
	if stale && !was {
		r.staleSince = now
	}
	if err != nil {
		r.staleWhy = err.Error()
	}
	r.mu.Unlock()
	if stale == was {
		return
	}
	if stale {
		r.cfg.Log.Error("toolset store out of sight: serving the toolsets last seen until it answers", "store", r.what, "err", r.staleWhy)
	} else {
		r.cfg.Log.Info("toolset store answers again: toolsets in step", "store", r.what)
	}
	r.cfg.OnStale(stale)
}

// Health says which store the registry uses and whether it is in step with it.
type Health struct {
	Store string // "memory", "bbolt PATH" or the shared store's description
	// Stale: a shared store has not been seen since Since; the toolsets served are those
	// last seen, and writes fail with ErrStoreUnavailable until it answers.
	Stale    bool
	Since    time.Time
	Why      string
	Revision int64 // the store revision the toolsets are current at
	// Damage: the store file was damaged at start, set aside and rebuilt (Registry.Damage).
	Damage string
}

// Health reports the store's state for the health detail.
func (r *Registry) Health() Health {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h := Health{Store: r.what, Stale: r.stale, Revision: r.rev, Damage: r.damage}
	if r.stale {
		h.Since, h.Why = r.staleSince, r.staleWhy
	}
	return h
}

// Close stops watching and closes the store.
func (r *Registry) Close() error {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	return r.store.Close()
}

var setNameRE = nameRE

// readModelFile reads a tools directory's NAME.model: one model name, or nothing when the
// file is absent.
func readModelFile(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	defer f.Close()
	b := make([]byte, 1024)
	n, _ := io.ReadFull(f, b)
	name := strings.TrimSpace(string(b[:n]))
	if !setNameRE.MatchString(name) {
		return "", fmt.Errorf("%s: not a model name (%s)", filepath.Base(path), setNameRE)
	}
	return name, nil
}

// Put validates and stores a toolset, replacing one of the same name (PutContext without a
// condition).
func (r *Registry) Put(name string, raw []byte, model string, now time.Time) (*Toolset, error) {
	return r.PutContext(context.Background(), name, raw, model, now, 0)
}

// PutContext validates and stores a toolset. model names its model ("" the default); the
// caller checks that it exists (the registry links no engine), the registry only its form.
// With ifVersion > 0 (an etag the caller read) it stores only if the toolset is still at
// that version, else ErrConflict; 0 replaces whatever is there. Validation and limits apply
// before anything is written. Errors: ValidationError (ErrInvalid), ErrReadOnly, ErrConflict,
// ErrStoreUnavailable, or ctx's error.
func (r *Registry) PutContext(ctx context.Context, name string, raw []byte, model string, now time.Time, ifVersion int64) (*Toolset, error) {
	if !setNameRE.MatchString(name) {
		return nil, Invalid("name", "toolset name %q must match %s", name, setNameRE)
	}
	if model != "" && !setNameRE.MatchString(model) {
		return nil, Invalid("model", "model name %q must match %s", model, setNameRE)
	}
	tools, err := ParseContext(ctx, raw, r.cfg.Limits, "tools")
	if err != nil {
		return nil, err
	}
	if len(tools) == 0 {
		return nil, Invalid("tools", "a toolset needs at least one tool")
	}
	if r.isReadOnly(name) {
		return nil, fmt.Errorf("%w: %q", ErrReadOnly, name)
	}
	ts := &Toolset{Name: name, Tools: tools, Raw: append(json.RawMessage(nil), raw...), Model: model, UpdatedAt: now}
	rec, err := encodeRecord(ts.Raw, model, now)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.StoreTimeout)
	defer cancel()
	v, err := r.store.Put(sctx, name, rec, ifVersion)
	if err != nil {
		return nil, r.storeErr(ctx, err)
	}
	ts.Version = v
	r.apply([]change{{name: name, version: v, ts: ts}})
	r.ownWrite(v)
	return ts, nil
}

// storeErr keeps the caller's own deadline or cancellation as such, and the store's answers
// (conflict, not found); any other failure is ErrStoreUnavailable.
func (r *Registry) storeErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrStoreUnavailable), errors.Is(err, ErrInvalid):
		return err
	}
	// Anything else is the store's failure, whoever classified it (a timeout of our own, a
	// dropped connection, a disk error): the dependency's fault, never the caller's.
	return fmt.Errorf("%w: %s: %v", ErrStoreUnavailable, r.what, err)
}

// Get returns a toolset by name.
func (r *Registry) Get(name string) (*Toolset, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ts, ok := r.sets[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return ts, nil
}

// List returns all toolsets sorted by name.
func (r *Registry) List() []*Toolset {
	r.mu.RLock()
	out := make([]*Toolset, 0, len(r.sets))
	for _, ts := range r.sets {
		out = append(out, ts)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Registry) isReadOnly(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.readOnly[name]
}

// Delete removes a toolset (DeleteContext without a condition).
func (r *Registry) Delete(name string) error {
	return r.DeleteContext(context.Background(), name, 0)
}

// DeleteContext removes a toolset; with ifVersion > 0 only while it is at that version.
// Errors: ErrReadOnly, ErrNotFound, ErrConflict, ErrStoreUnavailable, or ctx's error.
func (r *Registry) DeleteContext(ctx context.Context, name string, ifVersion int64) error {
	if r.isReadOnly(name) {
		return fmt.Errorf("%w: %q", ErrReadOnly, name)
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.StoreTimeout)
	defer cancel()
	rev, err := r.store.Delete(sctx, name, ifVersion)
	if err != nil {
		return r.storeErr(ctx, err)
	}
	r.apply([]change{{name: name, version: rev}})
	r.ownWrite(rev)
	return nil
}

// ownWrite: a store only this process writes has no later change to wait for.
func (r *Registry) ownWrite(rev int64) {
	if r.shared == nil {
		r.caughtUp(rev)
	}
}

// backoff spaces retries of an unanswering store: 100ms doubling to 2s, with jitter so that
// replicas do not retry in step.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }

func (b *backoff) next() time.Duration {
	d := b.d
	b.d = min(2*b.d, 2*time.Second)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// boltStore is the embedded store of one machine (--data-dir): bucket "toolsets" holds the
// records, bucket "versions" each record's version (8 bytes, big-endian) drawn from that
// bucket's sequence. Files written before versions existed get theirs when opened.
type boltStore struct{ db *bolt.DB }

var versionsBucket = []byte("versions")

// openBolt opens the store file through openStore (salvage.go): a damaged file is set aside
// and rebuilt, and damage says so.
func openBolt(dir string, now time.Time) (*boltStore, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("registry: data dir: %w", err)
	}
	db, damage, err := openStore(filepath.Join(dir, "toolsets.db"), now)
	if err != nil {
		return nil, "", fmt.Errorf("registry: open store: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		vb, err := tx.CreateBucketIfNotExists(versionsBucket)
		if err != nil {
			return err
		}
		var missing [][]byte
		if err := b.ForEach(func(k, _ []byte) error {
			if vb.Get(k) == nil {
				missing = append(missing, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range missing {
			if err := putVersion(vb, k); err != nil {
				return err
			}
		}
		// A version is never handed out twice, even by a store rebuilt from a damaged file
		// whose sequence could not be read: a version that went back would be taken for an
		// older change than one already applied.
		var most uint64
		if err := vb.ForEach(func(_, v []byte) error {
			if len(v) == 8 {
				most = max(most, binary.BigEndian.Uint64(v))
			}
			return nil
		}); err != nil {
			return err
		}
		if vb.Sequence() < most {
			return vb.SetSequence(most)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, "", fmt.Errorf("registry: read store: %w", err)
	}
	return &boltStore{db: db}, damage, nil
}

func putVersion(vb *bolt.Bucket, k []byte) error {
	seq, err := vb.NextSequence()
	if err != nil {
		return err
	}
	return vb.Put(k, binary.BigEndian.AppendUint64(nil, seq))
}

func getVersion(vb *bolt.Bucket, k []byte) int64 {
	v := vb.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func (s *boltStore) Load(context.Context) ([]Entry, int64, error) {
	var out []Entry
	var rev int64
	err := s.db.View(func(tx *bolt.Tx) error {
		vb := tx.Bucket(versionsBucket)
		rev = int64(vb.Sequence())
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			out = append(out, Entry{Name: string(k), Value: append([]byte(nil), v...), Version: getVersion(vb, k)})
			return nil
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("registry: read store: %w", err)
	}
	return out, rev, nil
}

func (s *boltStore) Put(_ context.Context, name string, value []byte, ifVersion int64) (int64, error) {
	var v int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, vb := tx.Bucket(bucket), tx.Bucket(versionsBucket)
		cur := int64(0)
		if b.Get([]byte(name)) != nil {
			cur = getVersion(vb, []byte(name))
		}
		if err := checkVersion(cur, ifVersion, name); err != nil {
			return err
		}
		if err := b.Put([]byte(name), value); err != nil {
			return err
		}
		if err := putVersion(vb, []byte(name)); err != nil {
			return err
		}
		v = getVersion(vb, []byte(name))
		return nil
	})
	if err != nil && !errors.Is(err, ErrConflict) {
		return 0, fmt.Errorf("registry: store: %w", err)
	}
	return v, err
}

func (s *boltStore) Delete(_ context.Context, name string, ifVersion int64) (int64, error) {
	var rev int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, vb := tx.Bucket(bucket), tx.Bucket(versionsBucket)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		if err := checkVersion(getVersion(vb, []byte(name)), ifVersion, name); err != nil {
			return err
		}
		seq, err := vb.NextSequence()
		if err != nil {
			return err
		}
		rev = int64(seq)
		if err := vb.Delete([]byte(name)); err != nil {
			return err
		}
		return b.Delete([]byte(name))
	})
	return rev, err
}

func (s *boltStore) Close() error { return s.db.Close() }

// Words returns the cached term counts of a tool's text (lexical.ToolText), for the BM25
// half of hybrid retrieval; same bounded LRU policy and size as Embedding.
func (r *Registry) Words(t *toolspec.Tool) lexical.Doc {
	key := sha256.Sum256(t.AppendJSON(nil))
	if d, ok := r.words.Get(key); ok {
		return d
	}
	d := lexical.NewDoc(lexical.ToolText(t))
	r.words.Add(key, d)
	return d
}

// Embedding returns the cached embedding of a tool's compact flat JSON (what the contrastive
// head was trained on) by the model that model identifies (each model embeds differently:
// modelset.Lease.Key). The cache is a bounded LRU; concurrent misses for the same tool and
// model compute it once.
func (r *Registry) Embedding(ctx context.Context, e Embedder, model string, t *toolspec.Tool) ([]float32, error) {
	text := string(t.AppendJSON(nil))
	key := sha256.Sum256([]byte(model + "\x00" + text))
	if v, ok := r.emb.Get(key); ok {
		return v, nil
	}
	v, err, _ := r.embSF.Do(string(key[:]), func() (any, error) {
		v, err := e.Embed(ctx, text)
		if err != nil {
			return nil, err
		}
		r.emb.Add(key, v)
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]float32), nil
}

// Package modelset holds the local models toolsets name. A model is a directory under the
// operator's models root (--models-dir: config.json, model.safetensors, tokenizer.model), named
// by its directory name; nothing a caller sends is ever a path. Models load on first use (or
// when a toolset is registered with one), are shared when their files are identical (same
// SHA-256 -> one instance), are held by reference while requests run on them, reload in the
// background when their files change (requests in flight finish on the old instance), and
// stay within a byte budget: the least recently used model no request holds is evicted
// first. The process's own model (modelname.Default) is outside the budget and never evicted.
package modelset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/modelname"
	"github.com/needle-router/needle/internal/needle"
)

// Model is what a request runs on: the grammar-constrained decoder and the contrastive
// embedding (router.LocalModel; *decode.Decoder is one).
type Model interface {
	Decode(ctx context.Context, req decode.Request) (*decode.Result, error)
	Embed(ctx context.Context, text string) ([]float32, error)
}

// Files are a model directory's three files, read once: hashed, then built.
type Files struct{ Config, Weights, Tokenizer []byte }

// FileNames are the files of a model directory, in Files order.
var FileNames = [3]string{"config.json", "model.safetensors", "tokenizer.model"}

// Digest is the SHA-256 over the three files, each preceded by its length: identical
// directories share one instance.
func (f Files) Digest() [32]byte {
	h := sha256.New()
	for _, b := range [][]byte{f.Config, f.Weights, f.Tokenizer} {
		var n [8]byte
		for i := range n {
			n[i] = byte(uint64(len(b)) >> (8 * i))
		}
		h.Write(n[:])
		h.Write(b)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Loaded is a model built from Files by Config.Load.
type Loaded struct {
	Model Model
	Bytes int64  // memory the model holds, counted against the budget (needle.Model.WeightBytes)
	ID    string // the model's own id (needle.Model.ID: config name @ training steps)
	// Threshold is the confidence threshold calibrated for the toolset the model was
	// fine-tuned on (needle.Model.Threshold), 0 when it has none.
	Threshold float64
}

// Errors, each wrapped in an *Error that names the model. Only ErrUnknown, ErrLoad and
// ErrTooLarge can be a caller's mistake (naming a model at registration); at Route they are
// the operator's files changing under a registered toolset.
var (
	// ErrUnknown: the name is not a model name, no models root is configured, or no model
	// directory of that name (with config.json and model.safetensors) is under it.
	ErrUnknown = errors.New("modelset: no such model")
	// ErrLoad: the model's files are there but do not build a model (config, weights or
	// tokenizer do not parse, or do not fit together).
	ErrLoad = errors.New("modelset: model does not load")
	// ErrTooLarge: the model alone is larger than the memory budget.
	ErrTooLarge = errors.New("modelset: model is larger than the model memory budget")
	// ErrBudget: loading the model would pass the budget and every loaded model is in use.
	ErrBudget = errors.New("modelset: the model memory budget is held by models in use")
)

// Error is one of the errors above for the named model; Err holds the detail for logs
// (it may name paths, so it is never sent to a caller).
type Error struct {
	Name string
	Kind error // ErrUnknown, ErrLoad, ErrTooLarge or ErrBudget
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%v: %q", e.Kind, e.Name)
	}
	return fmt.Sprintf("%v: %q: %v", e.Kind, e.Name, e.Err)
}

// Unwrap exposes only the kind, so a cause inside (a file system error) does not classify it.
func (e *Error) Unwrap() error { return e.Kind }

// Config configures a Set. Zero fields take the defaults named here.
type Config struct {
	// Root is the operator's models directory; empty: only the default model exists.
	Root string
	// Default is the process's own model; nil when it runs without one (everything then
	// escalates). DefaultID is its id (needle.Model.ID).
	Default   Model
	DefaultID string
	// DefaultThreshold is the default model's own calibrated threshold (needle.Model.Threshold,
	// 0: none), carried on its leases like a named model's.
	DefaultThreshold float64
	// Budget is the most bytes (Loaded.Bytes) the named models may hold together (default
	// 1 GiB). The default model is not counted.
	Budget int64
	// Load builds a model from its files; required when Root is set.
	Load func(Files) (Loaded, error)
	// Recheck is how often a loaded model's files are checked for change (default 2s);
	// FailedRetry is how long a model that failed to load answers with that error before
	// its files are read again, unless they change (default 10s).
	Recheck, FailedRetry time.Duration
	Log                  *slog.Logger
	// OnEvent is told of each load ("loaded", "shared", "reloaded", "failed", "reload_failed")
	// and eviction ("evicted"), for metrics; default none.
	OnEvent func(event string)
	Now     func() time.Time
}

// DefaultBudget is the default Config.Budget.
const DefaultBudget = 1 << 30

// Set is the models of one process. It is safe for concurrent use.
type Set struct {
	cfg  Config
	root *os.Root // nil without Root

	mu       sync.Mutex
	names    map[string]*entry
	byDigest map[[32]byte]*instance
	bytes    int64 // held by instances in byDigest
	failed   map[string]*failure
	sf       singleflight.Group
	bg       sync.WaitGroup
	closed   bool
}

// instance is one built model, shared by every name whose files hash to digest.
type instance struct {
	digest   [32]byte
	loaded   Loaded
	refs     int // leases not yet released
	names    int // entries pointing here
	lastUsed time.Time
}

// entry maps a name to the instance its files built, with the files' identity when read.
type entry struct {
	inst      *instance
	stamp     stamp
	checked   time.Time
	reloading bool
	badStamp  stamp // files that failed to reload: not tried again until they change
}

type failure struct {
	err   error
	stamp stamp
	at    time.Time
}

// stamp identifies the files' versions without reading them: same file (device and inode,
// so a swapped symlink or a renamed directory counts as a change), size and modification
// time for each.
type stamp [3]os.FileInfo

func (a stamp) same(b stamp) bool {
	for i := range a {
		if a[i] == nil || b[i] == nil {
			if a[i] != b[i] {
				return false
			}
			continue
		}
		if !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()) {
			return false
		}
	}
	return true
}

// New opens the models root (it must be a readable directory when set).
func New(cfg Config) (*Set, error) {
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 2 * time.Second
	}
	if cfg.FailedRetry <= 0 {
		cfg.FailedRetry = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(string) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Set{cfg: cfg, names: map[string]*entry{}, byDigest: map[[32]byte]*instance{}, failed: map[string]*failure{}}
	if cfg.Root != "" {
		if cfg.Load == nil {
			return nil, errors.New("modelset: a models root needs Config.Load")
		}
		// os.Root keeps every read inside the root: a symlink there may point to a sibling
		// directory (the atomic swap operators use), never outside.
		r, err := os.OpenRoot(cfg.Root)
		if err != nil {
			return nil, fmt.Errorf("modelset: models directory: %w", err)
		}
		s.root = r
	}
	return s, nil
}

// Close waits for background reloads and closes the root.
func (s *Set) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.bg.Wait()
	if s.root != nil {
		return s.root.Close()
	}
	return nil
}

// Settle waits for the background reloads started so far (tests).
func (s *Set) Settle() { s.bg.Wait() }

// Lease is a model held for one request; Release it when the request is done with it.
type Lease struct {
	// Model is nil for the default when the process runs without a local model.
	Model Model
	// Name is the model's name: modelname.Default, or its directory under the models root.
	Name string
	// ID is the model's own id (config name @ steps); Digest the first 12 hex digits of its
	// files' SHA-256 ("" for the default model).
	ID, Digest string
	// Threshold is the model's calibrated confidence threshold (Loaded.Threshold, or
	// Config.DefaultThreshold for the default model); 0 for models without one.
	Threshold float64
	// Key identifies the instance for caches of model outputs (tool embeddings).
	Key  string
	inst *instance
	set  *Set
	once sync.Once
}

// Release gives the lease back; a second call does nothing.
func (l *Lease) Release() {
	if l == nil || l.inst == nil {
		return
	}
	l.once.Do(func() { l.set.release(l.inst) })
}

// Acquire returns a lease on the model called name ("" or modelname.Default: the default),
// loading it if needed. Errors are *Error.
func (s *Set) Acquire(ctx context.Context, name string) (*Lease, error) {
	if modelname.IsDefault(name) {
		return &Lease{Model: s.cfg.Default, Name: modelname.Default, ID: s.cfg.DefaultID, Threshold: s.cfg.DefaultThreshold, Key: modelname.Default}, nil
	}
	if !modelname.Valid(name) || s.root == nil {
		return nil, &Error{Name: name, Kind: ErrUnknown}
	}
	for try := 0; try < 3; try++ {
		if l := s.acquireLoaded(name); l != nil {
			return l, nil
		}
		if err := s.loadOnce(ctx, name); err != nil {
			return nil, err
		}
	}
	// Loaded three times and evicted each time by other loads: the budget is too tight for
	// the models in use.
	return nil, &Error{Name: name, Kind: ErrBudget}
}

// Check loads the model called name if it is not loaded (warming it for the requests to
// come) and reports why it cannot serve; PutToolset calls it before storing a toolset
// that names it.
func (s *Set) Check(ctx context.Context, name string) error {
	l, err := s.Acquire(ctx, name)
	if err != nil {
		return err
	}
	l.Release()
	return nil
}

// acquireLoaded takes a reference on name's instance when it is loaded, and at most every
// Recheck looks at its files, starting a background reload when they changed.
func (s *Set) acquireLoaded(name string) *Lease {
	now := s.cfg.Now()
	s.mu.Lock()
	e := s.names[name]
	if e == nil {
		s.mu.Unlock()
		return nil
	}
	inst := e.inst
	inst.refs++
	inst.lastUsed = now
	recheck := !e.reloading && now.Sub(e.checked) >= s.cfg.Recheck
	if recheck {
		e.checked = now
	}
	s.mu.Unlock()
	if recheck {
		s.recheck(name, e)
	}
	return s.lease(name, inst)
}

func (s *Set) lease(name string, inst *instance) *Lease {
	d := hex.EncodeToString(inst.digest[:])
	return &Lease{Model: inst.loaded.Model, Name: name, ID: inst.loaded.ID, Threshold: inst.loaded.Threshold, Digest: d[:12], Key: d, inst: inst, set: s}
}

func (s *Set) release(inst *instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst.refs--
	s.dropIfUnreachable(inst)
}

// dropIfUnreachable frees an instance no name points to once no request holds it (a model
// swapped out, its last request done). Called with mu held.
func (s *Set) dropIfUnreachable(inst *instance) {
	if inst.refs == 0 && inst.names == 0 && s.byDigest[inst.digest] == inst {
		delete(s.byDigest, inst.digest)
		s.bytes -= inst.loaded.Bytes
	}
}

// recheck stats name's files; when they changed since they were read (and are not the
// version that already failed), it reloads them in the background. The current instance
// serves until the new one is in place; if the new files fail to load it keeps serving.
func (s *Set) recheck(name string, e *entry) {
	st, err := s.stat(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || st.same(e.stamp) || st.same(e.badStamp) || e.reloading || s.closed || s.names[name] != e {
		return
	}
	e.reloading = true
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.reload(name, e)
	}()
}

func (s *Set) reload(name string, e *entry) {
	inst, st, err := s.build(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	e.reloading = false
	if err != nil {
		e.badStamp = st
		s.cfg.Log.Error("model files changed but do not load: the previous version keeps serving", "model", name, "err", err.Error())
		s.cfg.OnEvent("reload_failed")
		return
	}
	if s.names[name] != e { // evicted meanwhile: the next request loads the new files
		s.dropIfUnreachable(inst)
		return
	}
	if inst = s.install(inst); inst == nil { // tried again at the next check: the budget frees as requests end
		s.cfg.Log.Warn("model files changed but the new version does not fit the model memory budget now: the previous version keeps serving", "model", name)
		s.cfg.OnEvent("reload_failed")
		return
	}
	if s.names[name] != e { // install evicted this name's own idle version to make room
		inst.names++
		s.names[name] = &entry{inst: inst, stamp: st, checked: s.cfg.Now()}
	} else {
		old := e.inst
		e.inst, e.stamp, e.badStamp = inst, st, stamp{}
		if inst == old { // touched, not changed
			return
		}
		inst.names++
		old.names--
		s.dropIfUnreachable(old)
	}
	s.cfg.Log.Info("model reloaded", "model", name, "id", inst.loaded.ID, "digest", hex.EncodeToString(inst.digest[:6]))
	s.cfg.OnEvent("reloaded")
}

// loadOnce loads name (once for concurrent callers) and maps it; a failure is remembered
// for FailedRetry unless the files change.
func (s *Set) loadOnce(ctx context.Context, name string) error {
	now := s.cfg.Now()
	s.mu.Lock()
	f := s.failed[name]
	s.mu.Unlock()
	if f != nil && now.Sub(f.at) < s.cfg.FailedRetry {
		if st, _ := s.stat(name); st.same(f.stamp) {
			return f.err
		}
	}
	ch := s.sf.DoChan(name, func() (any, error) {
		s.mu.Lock()
		loaded := s.names[name] != nil // by a call that ended just before this one began
		s.mu.Unlock()
		if loaded {
			return nil, nil
		}
		inst, st, err := s.build(name)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err == nil {
			if inst = s.install(inst); inst == nil {
				err = &Error{Name: name, Kind: ErrBudget}
			}
		}
		if err != nil {
			if !errors.Is(err, ErrBudget) { // the budget frees as requests end: not remembered
				s.failed[name] = &failure{err: err, stamp: st, at: s.cfg.Now()}
			}
			s.cfg.OnEvent("failed")
			return nil, err
		}
		delete(s.failed, name)
		if old := s.names[name]; old != nil { // a racing reload put it back: keep the newer
			old.inst.names--
			s.dropIfUnreachable(old.inst)
		}
		inst.names++
		s.names[name] = &entry{inst: inst, stamp: st, checked: s.cfg.Now()}
		return nil, nil
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		// The load goes on for whoever comes next; this caller is gone.
		return ctx.Err()
	}
}

// build reads name's files and returns the instance they make: the loaded one with the
// same digest when there is one (not yet installed otherwise). It returns the stamp the
// files had, for the failure cache.
func (s *Set) build(name string) (*instance, stamp, error) {
	var files Files
	var st stamp
	var err error
	// Files that change while read (a copy in progress) are read again, a few times.
	for try := 0; ; try++ {
		files, st, err = s.read(name)
		var me *Error
		if err == nil || try == 2 || !errors.As(err, &me) || me.Err != errChanging {
			break
		}
	}
	if err != nil {
		return nil, st, err
	}
	d := files.Digest()
	s.mu.Lock()
	if inst := s.byDigest[d]; inst != nil {
		s.mu.Unlock()
		s.cfg.OnEvent("shared")
		return inst, st, nil
	}
	s.mu.Unlock()
	loaded, err := s.cfg.Load(files)
	if err != nil {
		return nil, st, &Error{Name: name, Kind: ErrLoad, Err: err}
	}
	if loaded.Bytes > s.cfg.Budget {
		return nil, st, &Error{Name: name, Kind: ErrTooLarge, Err: fmt.Errorf("holds %d bytes, budget %d", loaded.Bytes, s.cfg.Budget)}
	}
	s.cfg.OnEvent("loaded")
	s.cfg.Log.Info("model loaded", "model", name, "id", loaded.ID, "bytes", loaded.Bytes, "digest", hex.EncodeToString(d[:6]))
	return &instance{digest: d, loaded: loaded, lastUsed: s.cfg.Now()}, st, nil
}

// install puts inst in the set, evicting the least recently used idle models until it fits
// the budget, and returns the instance to use: inst, or the one already there with the same
// digest (shared, or built twice by a race). Nil when it cannot fit: every other model is in
// use. Called with mu held.
func (s *Set) install(inst *instance) *instance {
	if cur := s.byDigest[inst.digest]; cur != nil {
		return cur
	}
	for s.bytes+inst.loaded.Bytes > s.cfg.Budget {
		var lru *instance
		for _, c := range s.byDigest {
			if c.refs == 0 && (lru == nil || c.lastUsed.Before(lru.lastUsed)) {
				lru = c
			}
		}
		if lru == nil {
			return nil
		}
		s.evict(lru)
	}
	s.byDigest[inst.digest] = inst
	s.bytes += inst.loaded.Bytes
	return inst
}

// evict removes an idle instance and every name mapped to it (they load again on use).
func (s *Set) evict(inst *instance) {
	for n, e := range s.names {
		if e.inst == inst {
			delete(s.names, n)
		}
	}
	inst.names = 0
	delete(s.byDigest, inst.digest)
	s.bytes -= inst.loaded.Bytes
	s.cfg.Log.Info("model evicted: the model memory budget is full", "digest", hex.EncodeToString(inst.digest[:6]), "bytes", inst.loaded.Bytes)
	s.cfg.OnEvent("evicted")
}

var errChanging = errors.New("files changed while they were read")

// read stats and reads name's files, checking they did not change meanwhile.
func (s *Set) read(name string) (Files, stamp, error) {
	var files Files
	st, err := s.stat(name)
	if err != nil {
		return files, st, err
	}
	if st[1].Size() > s.cfg.Budget { // refused before reading: cost bounded before work starts
		return files, st, &Error{Name: name, Kind: ErrTooLarge, Err: fmt.Errorf("weights file is %d bytes, budget %d", st[1].Size(), s.cfg.Budget)}
	}
	for i, p := range []*[]byte{&files.Config, &files.Weights, &files.Tokenizer} {
		if *p, err = s.root.ReadFile(name + "/" + FileNames[i]); err != nil {
			return files, st, &Error{Name: name, Kind: ErrLoad, Err: err}
		}
	}
	if after, err := s.stat(name); err != nil || !after.same(st) {
		return files, st, &Error{Name: name, Kind: ErrLoad, Err: errChanging}
	}
	return files, st, nil
}

// stat returns the stamp of name's files; ErrUnknown when config.json or model.safetensors
// is missing.
func (s *Set) stat(name string) (stamp, error) {
	var st stamp
	for i, f := range FileNames {
		fi, err := s.root.Stat(name + "/" + f)
		if err != nil {
			if i < 2 && errors.Is(err, fs.ErrNotExist) {
				return st, &Error{Name: name, Kind: ErrUnknown, Err: err}
			}
			return st, &Error{Name: name, Kind: ErrLoad, Err: err}
		}
		if !fi.Mode().IsRegular() {
			return st, &Error{Name: name, Kind: ErrLoad, Err: fmt.Errorf("%s is not a regular file", f)}
		}
		st[i] = fi
	}
	return st, nil
}

// Stats describes the loaded named models.
type Stats struct {
	Models int   // instances held (shared ones once)
	Names  int   // names mapped to them
	Bytes  int64 // their memory
	Budget int64
}

// Stats returns the current counts.
func (s *Set) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Models: len(s.byDigest), Names: len(s.names), Bytes: s.bytes, Budget: s.cfg.Budget}
}

// NeedleLoad builds Needle models with the in-memory weight format weights ("" as stored,
// needle.WeightFormats) and the default decoding options: the router's Config.Load.
func NeedleLoad(weights string) func(Files) (Loaded, error) {
	return func(f Files) (Loaded, error) {
		cfg, err := needle.ParseConfig(f.Config)
		if err != nil {
			return Loaded{}, err
		}
		tok, err := needle.ParseTokenizer(f.Tokenizer)
		if err != nil {
			return Loaded{}, err
		}
		m, err := needle.New(cfg, f.Weights, tok, needle.Options{Weights: weights})
		if err != nil {
			return Loaded{}, err
		}
		d, err := decode.New(m, decode.Options{})
		if err != nil {
			return Loaded{}, err
		}
		return Loaded{Model: d, Bytes: m.WeightBytes(), ID: m.ID(), Threshold: m.Threshold()}, nil
	}
}

package registry

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	Name      string
	Tools     []Tool
	Raw       json.RawMessage // the definitions as given, re-parsed on load
	UpdatedAt time.Time
}

// Embedder turns text into a unit vector (the model's contrastive head).
type Embedder interface {
	Embed(ctx context.Context, text string) ([]float32, error)
}

// Config configures a Registry. The zero value is an in-memory registry with default limits.
type Config struct {
	// DataDir holds the embedded store (toolsets.db); empty keeps toolsets in memory only.
	DataDir string
	// ToolsDir is read at start: every *.json file becomes a toolset named after the file.
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
}

// Registry holds toolsets and caches tool embeddings. It is safe for concurrent use.
type Registry struct {
	cfg Config
	db  *bolt.DB

	mu       sync.RWMutex
	sets     map[string]*Toolset
	readOnly map[string]bool

	emb   *lru.Cache[[32]byte, []float32]
	words *lru.Cache[[32]byte, lexical.Doc]
	embSF singleflight.Group
}

var bucket = []byte("toolsets")

// Open opens (or creates) the store, loads persisted toolsets and the tools directory. A
// stored toolset or file that no longer parses is skipped (logged, OnSkip) and the others
// serve; only an unreadable store or directory is an error.
func Open(cfg Config) (*Registry, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OnSkip == nil {
		cfg.OnSkip = func() {}
	}
	if cfg.EmbedCache <= 0 {
		cfg.EmbedCache = 4096
	}
	emb, err := lru.New[[32]byte, []float32](cfg.EmbedCache)
	if err != nil {
		return nil, err
	}
	words, err := lru.New[[32]byte, lexical.Doc](cfg.EmbedCache)
	if err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, sets: map[string]*Toolset{}, readOnly: map[string]bool{}, emb: emb, words: words}
	skip := func(what, name string, err error) {
		cfg.Log.Error("toolset skipped: it does not load", "source", what, "toolset", name, "err", err.Error())
		cfg.OnSkip()
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("registry: data dir: %w", err)
		}
		db, err := bolt.Open(filepath.Join(cfg.DataDir, "toolsets.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("registry: open store: %w", err)
		}
		r.db = db
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			return b.ForEach(func(k, v []byte) error {
				var rec struct {
					Raw       json.RawMessage `json:"raw"`
					UpdatedAt time.Time       `json:"updated_at"`
				}
				if err := json.Unmarshal(v, &rec); err != nil {
					skip("store", string(k), err)
					return nil
				}
				tools, err := Parse(rec.Raw, cfg.Limits, "tools")
				if err != nil {
					skip("store", string(k), err)
					return nil
				}
				r.sets[string(k)] = &Toolset{Name: string(k), Tools: tools, Raw: rec.Raw, UpdatedAt: rec.UpdatedAt}
				return nil
			})
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("registry: read store: %w", err)
		}
	}
	if cfg.ToolsDir != "" {
		files, err := filepath.Glob(filepath.Join(cfg.ToolsDir, "*.json"))
		if err != nil {
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
			if err != nil {
				skip("file", name, err)
				continue
			}
			if _, ok := r.sets[name]; ok {
				cfg.Log.Warn("the tools directory's toolset hides the stored one of the same name", "toolset", name)
			}
			st, _ := os.Stat(f)
			r.sets[name] = &Toolset{Name: name, Tools: tools, Raw: b, UpdatedAt: st.ModTime()}
			r.readOnly[name] = true
		}
	}
	return r, nil
}

// Close closes the store.
func (r *Registry) Close() error {
	if r.db != nil {
		return r.db.Close()
	}
	return nil
}

var setNameRE = nameRE

// Put validates and stores a toolset, replacing one of the same name.
func (r *Registry) Put(name string, raw []byte, now time.Time) (*Toolset, error) {
	if !setNameRE.MatchString(name) {
		return nil, &ValidationError{Violations: []Violation{{Field: "name", Description: fmt.Sprintf("toolset name %q must match %s", name, setNameRE)}}}
	}
	tools, err := Parse(raw, r.cfg.Limits, "tools")
	if err != nil {
		return nil, err
	}
	if len(tools) == 0 {
		return nil, &ValidationError{Violations: []Violation{{Field: "tools", Description: "a toolset needs at least one tool"}}}
	}
	if r.isReadOnly(name) {
		return nil, fmt.Errorf("%w: %q", ErrReadOnly, name)
	}
	ts := &Toolset{Name: name, Tools: tools, Raw: append(json.RawMessage(nil), raw...), UpdatedAt: now}
	if r.db != nil {
		rec, _ := json.Marshal(map[string]any{"raw": ts.Raw, "updated_at": now})
		if err := r.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(name), rec) }); err != nil {
			return nil, fmt.Errorf("registry: store: %w", err)
		}
	}
	r.mu.Lock()
	r.sets[name] = ts
	r.mu.Unlock()
	return ts, nil
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

// Delete removes a toolset.
func (r *Registry) Delete(name string) error {
	if r.isReadOnly(name) {
		return fmt.Errorf("%w: %q", ErrReadOnly, name)
	}
	r.mu.Lock()
	_, ok := r.sets[name]
	delete(r.sets, name)
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if r.db != nil {
		return r.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(name)) })
	}
	return nil
}

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
// head was trained on). The cache is a bounded LRU; concurrent misses for the same tool
// compute it once.
func (r *Registry) Embedding(ctx context.Context, e Embedder, t *toolspec.Tool) ([]float32, error) {
	text := string(t.AppendJSON(nil))
	key := sha256.Sum256([]byte(text))
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

package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
)

// ErrConflict marks a conditional write whose etag is not the toolset's current one: someone
// else wrote (or deleted) it since the caller read it.
var ErrConflict = errors.New("registry: toolset changed since the given etag")

// ErrStoreUnavailable marks a write the toolset store could not take (unreachable, no
// leader, timed out). The toolsets already loaded keep serving.
var ErrStoreUnavailable = errors.New("registry: toolset store unavailable")

// ErrCompacted is returned by SharedStore.Watch when the revision to resume from is no longer
// kept by the store, or is ahead of it (a store restored or replaced); the registry lists the
// store again.
var ErrCompacted = errors.New("registry: store revision compacted")

// Entry is one stored toolset as a Store keeps it.
type Entry struct {
	Name    string
	Value   []byte // the encoded record (encodeRecord)
	Version int64  // > 0: the store's revision of the entry's last write
}

// Change is one write seen by SharedStore.Watch.
type Change struct {
	Name    string
	Value   []byte // nil: the toolset was deleted
	Version int64  // the revision of this change
}

// Store persists toolsets. Versions are positive and grow with every write, so a write can be
// made conditional on the version the writer read (optimistic concurrency). Errors: ErrConflict
// for a failed condition, ErrNotFound for deleting what is not there, ErrStoreUnavailable when
// the store cannot answer.
type Store interface {
	// Load returns every entry and the revision the listing is current at.
	Load(ctx context.Context) (entries []Entry, rev int64, err error)
	// Put writes value under name when the entry's current version is ifVersion (0: any
	// version, or none) and returns the new version.
	Put(ctx context.Context, name string, value []byte, ifVersion int64) (int64, error)
	// Delete removes name when its current version is ifVersion (0: any) and returns the
	// revision of the delete.
	Delete(ctx context.Context, name string, ifVersion int64) (int64, error)
	Close() error
}

// SharedStore is a Store that other routers write too; the registry watches it and keeps its
// in-memory toolsets in step (requests never read the store).
type SharedStore interface {
	Store
	// Watch calls apply with the changes after revision after, in revision order, until ctx
	// ends or the watch breaks, and says why it broke: ErrStoreUnavailable when the store
	// stopped answering (the implementation must notice within a bounded time, not wait for
	// TCP), ErrCompacted when after is no longer kept.
	Watch(ctx context.Context, after int64, apply func(rev int64, changes []Change)) error
	// Describe names the store for logs and the health detail, without credentials.
	Describe() string
}

// record is a stored toolset's encoding, shared by every store.
type record struct {
	Raw json.RawMessage `json:"raw"`
	// Model names the toolset's model (Toolset.Model); absent for the default.
	Model     string    `json:"model,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

func encodeRecord(raw []byte, model string, now time.Time) ([]byte, error) {
	return json.Marshal(record{Raw: raw, Model: model, UpdatedAt: now})
}

func decodeRecord(b []byte) (record, error) {
	var rec record
	err := json.Unmarshal(b, &rec)
	return rec, err
}

// ETag is the public form of a stored toolset's version: its decimal revision ("" for a
// toolset from the tools directory, which has none).
func ETag(version int64) string {
	if version <= 0 {
		return ""
	}
	return strconv.FormatInt(version, 10)
}

// ParseETag reads an etag a caller sent back: "" is 0 (no condition); anything but an etag
// this server issued is a ValidationError on field.
func ParseETag(s, field string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || ETag(v) != s {
		return 0, Invalid(field, "not an etag from this server (the decimal etag of GetToolset, ListToolsets or PutToolset)")
	}
	return v, nil
}

// memStore is the store without --data-dir or --store: one process, nothing survives it.
type memStore struct {
	mu      sync.Mutex
	rev     int64
	entries map[string]Entry
}

func newMemStore() *memStore { return &memStore{entries: map[string]Entry{}} }

func (m *memStore) Load(context.Context) ([]Entry, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Entry, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, m.rev, nil
}

func (m *memStore) Put(_ context.Context, name string, value []byte, ifVersion int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkVersion(m.entries[name].Version, ifVersion, name); err != nil {
		return 0, err
	}
	m.rev++
	m.entries[name] = Entry{Name: name, Value: value, Version: m.rev}
	return m.rev, nil
}

func (m *memStore) Delete(_ context.Context, name string, ifVersion int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.entries[name]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err := checkVersion(cur.Version, ifVersion, name); err != nil {
		return 0, err
	}
	m.rev++
	delete(m.entries, name)
	return m.rev, nil
}

func (m *memStore) Close() error { return nil }

// checkVersion is the condition of a conditional write: cur is the stored version (0: none).
func checkVersion(cur, ifVersion int64, name string) error {
	if ifVersion != 0 && cur != ifVersion {
		return fmt.Errorf("%w: %q is at etag %q, not %q", ErrConflict, name, ETag(cur), ETag(ifVersion))
	}
	return nil
}

package registry

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// goodStore writes n toolsets (each about size bytes of definitions) into a fresh store and
// returns the file's bytes.
func goodStore(t testing.TB, n, size int) []byte {
	t.Helper()
	dir := t.TempDir()
	r, err := Open(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		desc := strings.Repeat("x", size)
		tools := fmt.Sprintf(`[{"name":"t%d","description":%q,"parameters":{"minutes":{"type":"integer","required":true}}}]`, i, desc)
		if _, err := r.Put(fmt.Sprintf("set%03d", i), []byte(tools), "", time.Unix(int64(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "toolsets.db"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openDamaged writes data as the store file and opens it; Open must not fail or panic.
func openDamaged(t testing.TB, data []byte) (r *Registry, dir string, damaged int) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "toolsets.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(Config{DataDir: dir, OnDamaged: func() { damaged++ }})
	if err != nil {
		t.Fatalf("a damaged store stopped the start: %v", err)
	}
	return r, dir, damaged
}

// toolsetRecords keeps the records of the toolsets bucket (not the versions bucket's, nor
// the buckets themselves).
func toolsetRecords(recs []storeRecord) []storeRecord {
	var out []storeRecord
	for _, r := range recs {
		if !r.bucket && len(r.path) == 1 && r.path[0] == string(bucket) {
			out = append(out, r)
		}
	}
	return out
}

func names(r *Registry) []string {
	var out []string
	for _, ts := range r.List() {
		out = append(out, ts.Name)
	}
	return out
}

// The cases of issue 22 and their kind: bytes of a good store overwritten anywhere never
// panic the start; the damaged file is set aside and said so (log, OnDamaged, Damage);
// every toolset on a page the damage did not touch is served, and persists in the fresh
// store, which opens clean.
func TestDamagedStoreIsSetAsideAndSalvaged(t *testing.T) {
	good := goodStore(t, 40, 300) // several leaf pages under a branch page
	recs, problems := readBoltFile(good)
	recs = toolsetRecords(recs)
	if len(problems) > 0 || len(recs) != 40 {
		t.Fatalf("the good store reads with problems %v, %d records", problems, len(recs))
	}
	const ps = 4096
	rng := rand.New(rand.NewPCG(22, 1))
	randomBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	overwrite := func(from int, with []byte) []byte {
		d := slices.Clone(good)
		copy(d[from:], with)
		return d
	}
	// The pages of the newest tree, by type.
	m0, m1 := readMeta(good, 0), readMeta(good, ps)
	if m1.txid > m0.txid {
		m0 = m1
	}
	live := &boltReader{data: good, pageSize: ps, hwm: m0.hwm, seen: map[uint64]bool{}}
	live.tree(m0.root, nil, nil, nil, 0)
	pageOf := func(kind uint16) []int {
		var out []int
		for p := range live.seen {
			if binary.LittleEndian.Uint16(good[int(p)*ps+8:])&kind != 0 {
				out = append(out, int(p))
			}
		}
		slices.Sort(out)
		return out
	}
	leaves, branches := pageOf(boltLeaf), pageOf(boltBranch)
	if len(branches) == 0 || len(leaves) < 3 {
		t.Fatalf("the fixture should have a branch page and several leaves: %v %v", branches, leaves)
	}
	// A branch page pointing at itself: bbolt's cursor and its tx.Check descend forever.
	cycle := slices.Clone(good)
	b := branches[0] * ps
	binary.LittleEndian.PutUint64(cycle[b+boltHeader+8:], uint64(branches[0]))

	if !slices.Contains(leaves, 3) {
		t.Fatalf("page 3 is not a leaf of the fixture: %v", leaves)
	}
	cases := []struct {
		name string
		data []byte
		lost []int // pages whose records may be lost; nil: any
	}{
		{"bytes 8192-32767 overwritten (invalid freelist page)", overwrite(8192, randomBytes(32768-8192)), nil},
		{"200 random bytes over page 3's element table", overwrite(3*ps+boltHeader, randomBytes(200)), []int{3}},
		{"200 random bytes in the branch page", overwrite(branches[0]*ps+40, randomBytes(200)), []int{}},
		{"a leaf page zeroed", overwrite(leaves[1]*ps, make([]byte, ps)), []int{leaves[1]}},
		{"a branch page points at itself", cycle, nil},
		{"meta 0 damaged: the previous transaction is read", overwrite(20, randomBytes(8)), nil},
		{"empty file", []byte{}, nil},
		{"truncated to 3 pages", good[:3*ps], nil},
		{"truncated inside a leaf", good[:leaves[len(leaves)-1]*ps+123], []int{leaves[len(leaves)-1]}},
		{"not a bbolt file", []byte(`{"toolsets":[]}`), nil},
		{"random bytes", randomBytes(5 * ps), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, dir, damaged := openDamaged(t, tc.data)
			if damaged != 1 || r.Damage() == "" || !strings.Contains(r.Damage(), "set aside as toolsets.db.damaged-") {
				t.Fatalf("damage not reported: OnDamaged %d times, Damage %q", damaged, r.Damage())
			}
			aside, _ := filepath.Glob(filepath.Join(dir, "toolsets.db.damaged-*"))
			if len(aside) != 1 {
				t.Fatalf("damaged file not set aside: %v", aside)
			}
			if kept, _ := os.ReadFile(aside[0]); string(kept) != string(tc.data) {
				t.Fatal("the file set aside is not the damaged file as it was")
			}
			served := names(r)
			if tc.lost != nil {
				for _, rec := range recs {
					if !slices.Contains(tc.lost, int(rec.page)) && !slices.Contains(served, string(rec.key)) {
						t.Errorf("toolset %s on undamaged page %d lost (served %d)", rec.key, rec.page, len(served))
					}
				}
			}
			for _, n := range served {
				if _, err := r.Get(n); err != nil {
					t.Fatal(err)
				}
			}
			// The salvage persists and the fresh store is sound.
			r.Close()
			r2, err := Open(Config{DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			if r2.Damage() != "" || !slices.Equal(names(r2), served) {
				t.Fatalf("reopened: damage %q, %v, want %v", r2.Damage(), names(r2), served)
			}
			// And it takes writes, with a version above every one handed out before (the
			// sequence is carried over, or recovered from the versions themselves).
			after, err := r2.Put("after", []byte(oneTool), "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, ts := range r2.List() {
				if ts.Name != "after" && ts.Version >= after.Version {
					t.Fatalf("version %d of %s, not below the new write's %d", ts.Version, ts.Name, after.Version)
				}
			}
		})
	}
}

// Random bytes inside a record's value leave the file sound (bbolt keeps no checksum of
// data): that toolset no longer parses and is skipped and counted, as any stored toolset
// that stops loading; every other toolset serves and nothing is set aside.
func TestDamagedValueSkipsThatToolset(t *testing.T) {
	good := goodStore(t, 40, 300)
	recs, _ := readBoltFile(good)
	recs = toolsetRecords(recs)
	d := slices.Clone(good)
	copy(d[3*4096+1000:], strings.Repeat("\xff", 200))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "toolsets.db"), d, 0o600)
	skipped := 0
	r, err := Open(Config{DataDir: dir, OnSkip: func() { skipped++ }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if skipped == 0 || len(names(r))+skipped != len(recs) || r.Damage() != "" {
		t.Fatalf("skipped %d, served %d of %d, damage %q", skipped, len(names(r)), len(recs), r.Damage())
	}
}

// A sound store is opened as it is: nothing set aside, nothing reported.
func TestSoundStoreIsNotSetAside(t *testing.T) {
	r, dir, damaged := openDamaged(t, goodStore(t, 5, 10))
	defer r.Close()
	if damaged != 0 || r.Damage() != "" || len(names(r)) != 5 {
		t.Fatalf("damaged %d %q, %v", damaged, r.Damage(), names(r))
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "toolsets.db.*")); len(aside) != 0 {
		t.Fatalf("files beside the store: %v", aside)
	}
}

// The store is locked while it is judged: a second router on the same directory gets an
// error, and the first one's file is neither set aside nor rewritten.
func TestStoreInUseIsAnErrorNotDamage(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Put("a", []byte(oneTool), "", time.Now()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Open(Config{DataDir: dir}); err == nil {
		t.Fatal("a second Open of a store in use succeeded")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("the lock wait is not bounded")
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "toolsets.db.*")); len(aside) != 0 {
		t.Fatalf("a store in use was set aside: %v", aside)
	}
	if _, err := r.Get("a"); err != nil {
		t.Fatal(err)
	}
}

// FuzzStoreFile: any bytes as toolsets.db open without a panic or an error, and what is
// served persists in a store that then opens clean. Seeds: testdata/fuzz/FuzzStoreFile and a
// good store with a few of its pages damaged.
func FuzzStoreFile(f *testing.F) {
	good := goodStore(f, 12, 200)
	f.Add(good)
	for _, p := range []int{0, 2, 3, 4} {
		d := slices.Clone(good)
		for i := p * 4096; i < min(len(d), p*4096+64); i++ {
			d[i] ^= 0x5a
		}
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, dir, _ := openDamaged(t, data)
		served := names(r)
		r.Close()
		r2, err := Open(Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer r2.Close()
		if r2.Damage() != "" || !slices.Equal(names(r2), served) {
			t.Fatalf("reopened: damage %q, %v, want %v", r2.Damage(), names(r2), served)
		}
	})
}

package registry

// Opening the toolset store without trusting it. bbolt trusts its file: a damaged page
// panics inside bolt.Open ("invalid freelist page"), indexes past a slice ("slice bounds out
// of range"), faults on a page id past the end of its memory map (a fatal signal, not a
// panic), and a branch page that points back at an ancestor sends its cursor, and its own
// consistency check (tx.Check), into an endless descent. So before bbolt sees the file, it
// is read here as plain bytes with every offset bounds-checked: both meta pages (magic,
// version, FNV-64a checksum), the B+tree of every bucket from the newest valid meta (page ids
// below the high-water mark, each page reached once, page types, element offsets inside
// their page, keys ascending within the ranges their parents give), and the freelist (its
// ids below the high-water mark, none also reachable, none twice). A file that passes is
// handed to bbolt. One that does not is damaged: every record that could be read is kept,
// the file is renamed aside (toolsets.db.damaged-<UTC time>) and a fresh store is written
// with the salvaged records, so a readable toolset is never lost.
//
// Page layout (go.etcd.io/bbolt internal/common, little-endian on every platform the
// router builds for): a page header of 16 bytes (id u64, flags u16, count u16, overflow
// u32); a meta page body (magic u32, version u32, page size u32, flags u32, root bucket
// {root u64, sequence u64}, freelist u64, high-water mark u64, txid u64, checksum u64 of
// the 56 bytes before it); branch elements of 16 bytes (pos u32, ksize u32, pgid u64) and
// leaf elements of 16 bytes (flags u32, pos u32, ksize u32, vsize u32), pos counted from
// the element itself; a bucket value is {root u64, sequence u64}, followed by an inline
// leaf page when root is 0; a freelist page lists u64 ids, its first one being the count
// when the header's count is 0xFFFF.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltHeader       = 16
	boltElement      = 16
	boltMetaSize     = 56 + 8 // through the checksum
	boltBranch       = 0x01
	boltLeaf         = 0x02
	boltMeta         = 0x04
	boltFreelist     = 0x10
	boltBucketLeaf   = 0x01
	boltNoFreelist   = ^uint64(0)
	boltMaxDepth     = 64 // B+tree and nested-bucket depth; real stores are a few levels deep
	boltMaxStoreSize = 1 << 30
)

// storeRecord is one key and value of the store, in the bucket named by path; or, with
// bucket set, the bucket at path itself and its sequence (NextSequence's counter, which a
// rebuilt store must not start again from 0).
type storeRecord struct {
	path       []string
	key, value []byte
	page       uint64 // the leaf page it was read from (0: an inline bucket)
	bucket     bool
	seq        uint64
}

type boltMetaPage struct {
	pageSize       uint64
	root, freelist uint64
	hwm, txid      uint64
	valid          bool
	why            string
}

// boltReader reads one bbolt file held in memory.
type boltReader struct {
	data     []byte
	pageSize uint64
	hwm      uint64
	seen     map[uint64]bool // pages reached (overflow pages included)
	free     map[uint64]bool // pages the freelist lists
	freeOK   bool            // the freelist read cleanly
	recs     []storeRecord
	problems []string
	bad      map[string][]string // buckets (path joined by "/") where something did not read
}

func (r *boltReader) problem(format string, args ...any) {
	if len(r.problems) < 16 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

// badAt is a problem inside the bucket at path.
func (r *boltReader) badAt(path []string, format string, args ...any) {
	r.problem("%s: %s", "/"+strings.Join(path, "/"), fmt.Sprintf(format, args...))
	if r.bad == nil {
		r.bad = map[string][]string{}
	}
	r.bad[strings.Join(path, "\x00")] = path
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

func readMeta(data []byte, off uint64) boltMetaPage {
	m := boltMetaPage{}
	if off+boltHeader+boltMetaSize > uint64(len(data)) {
		m.why = "meta page past the end of the file"
		return m
	}
	p := data[off:]
	body := p[boltHeader : boltHeader+boltMetaSize]
	h := fnv.New64a()
	h.Write(body[:56])
	switch {
	case le16(p[8:])&boltMeta == 0:
		m.why = "not a meta page"
	case le32(body) != boltMagic:
		m.why = "bad magic"
	case le32(body[4:]) != boltVersion:
		m.why = fmt.Sprintf("format version %d", le32(body[4:]))
	case le64(body[56:]) != h.Sum64():
		m.why = "checksum mismatch"
	default:
		m.valid = true
	}
	m.pageSize = uint64(le32(body[8:]))
	m.root, m.freelist, m.hwm, m.txid = le64(body[16:]), le64(body[32:]), le64(body[40:]), le64(body[48:])
	if m.valid && (m.pageSize < 1024 || m.pageSize > 1<<16 || m.pageSize&(m.pageSize-1) != 0) {
		m.valid, m.why = false, fmt.Sprintf("page size %d", m.pageSize)
	}
	if m.valid && (m.root < 2 || m.root >= m.hwm || (m.freelist != boltNoFreelist && (m.freelist < 2 || m.freelist >= m.hwm))) {
		m.valid, m.why = false, "root or freelist page past the high-water mark"
	}
	return m
}

// page returns page id with its overflow pages, checked against the file and the
// high-water mark, and marks them reached. bad reports a problem.
func (r *boltReader) page(id uint64, bad func(format string, args ...any)) ([]byte, bool) {
	p, ok := r.pageAt(id)
	if !ok {
		bad("page %d: outside [2, %d), past the end of the file or a bad header", id, r.hwm)
		return nil, false
	}
	overflow := uint64(le32(p[12:]))
	for i := id; i <= id+overflow; i++ {
		if r.seen[i] {
			bad("page %d reached twice", i)
			return nil, false
		}
	}
	for i := id; i <= id+overflow; i++ {
		r.seen[i] = true
	}
	return p, true
}

// pageAt returns page id with its overflow pages when its header is whole and names it.
func (r *boltReader) pageAt(id uint64) ([]byte, bool) {
	if id < 2 || id >= r.hwm {
		return nil, false
	}
	off := id * r.pageSize
	if off+boltHeader > uint64(len(r.data)) {
		return nil, false
	}
	p := r.data[off:]
	overflow := uint64(le32(p[12:]))
	end := off + (overflow+1)*r.pageSize
	if le64(p) != id || overflow >= r.hwm || id+overflow >= r.hwm || end > uint64(len(r.data)) {
		return nil, false
	}
	return r.data[off:end], true
}

// elements returns the count elements of page p (a header, then elements), or false when
// they do not fit.
func elements(p []byte) (int, bool) {
	n := int(le16(p[10:]))
	return n, boltHeader+n*boltElement <= len(p)
}

// span returns p[at+pos : at+pos+n] when it lies inside p.
func span(p []byte, at int, pos uint32, n uint64) ([]byte, bool) {
	s := uint64(at) + uint64(pos)
	e := s + n
	if e > uint64(len(p)) {
		return nil, false
	}
	return p[s:e], true
}

// tree reads the B+tree rooted at page id; keys must lie in [lo, hi) (nil: unbounded).
func (r *boltReader) tree(id uint64, path []string, lo, hi []byte, depth int) {
	bad := func(format string, args ...any) { r.badAt(path, format, args...) }
	if depth > boltMaxDepth {
		bad("deeper than %d", boltMaxDepth)
		return
	}
	p, ok := r.page(id, bad)
	if !ok {
		return
	}
	switch flags := le16(p[8:]); {
	case flags&boltBranch != 0:
		n, ok := elements(p)
		if !ok || n == 0 {
			bad("branch page %d: %d elements do not fit", id, n)
			return
		}
		keys := make([][]byte, n)
		for i := 0; i < n; i++ {
			at := boltHeader + i*boltElement
			k, ok := span(p, at, le32(p[at:]), uint64(le32(p[at+4:])))
			if !ok {
				bad("branch page %d: key %d outside the page", id, i)
				return
			}
			keys[i] = k
		}
		for i := 0; i < n; i++ {
			at := boltHeader + i*boltElement
			clo, chi := keys[i], hi
			if i == 0 {
				clo = lo
			}
			if i+1 < n {
				chi = keys[i+1]
			}
			if !inRange(keys[i], lo, hi) || (i+1 < n && bytes.Compare(keys[i], keys[i+1]) >= 0) {
				bad("branch page %d: keys out of order", id)
				return
			}
			r.tree(le64(p[at+8:]), path, clo, chi, depth+1)
		}
	case flags&boltLeaf != 0:
		r.leaf(p, id, path, lo, hi, depth)
	default:
		bad("page %d: type %#x where a branch or leaf page belongs", id, flags)
	}
}

func inRange(k, lo, hi []byte) bool {
	return (lo == nil || bytes.Compare(k, lo) >= 0) && (hi == nil || bytes.Compare(k, hi) < 0)
}

// leaf reads the elements of a leaf page (id 0: an inline bucket's page).
func (r *boltReader) leaf(p []byte, id uint64, path []string, lo, hi []byte, depth int) {
	bad := func(format string, args ...any) { r.badAt(path, format, args...) }
	n, ok := elements(p)
	if !ok {
		bad("leaf page %d: %d elements do not fit", id, n)
		return
	}
	var prev []byte
	for i := 0; i < n; i++ {
		at := boltHeader + i*boltElement
		flags, pos, ksize, vsize := le32(p[at:]), le32(p[at+4:]), le32(p[at+8:]), le32(p[at+12:])
		kv, ok := span(p, at, pos, uint64(ksize)+uint64(vsize))
		if !ok {
			bad("leaf page %d: element %d outside the page", id, i)
			continue
		}
		k, v := kv[:ksize], kv[ksize:]
		if len(k) == 0 || !inRange(k, lo, hi) || (prev != nil && bytes.Compare(prev, k) >= 0) {
			bad("leaf page %d: key %d out of order", id, i)
			continue
		}
		prev = k
		if flags&boltBucketLeaf == 0 {
			r.recs = append(r.recs, storeRecord{path: path, key: bytes.Clone(k), value: bytes.Clone(v), page: id})
			continue
		}
		sub := append(append([]string(nil), path...), string(k))
		if len(v) < 16 {
			r.badAt(sub, "bucket header cut short")
			continue
		}
		r.recs = append(r.recs, storeRecord{path: sub, bucket: true, seq: le64(v[8:])})
		if root := le64(v); root != 0 {
			r.tree(root, sub, nil, nil, depth+1)
			continue
		}
		inline := v[16:]
		if len(inline) < boltHeader || le16(inline[8:])&boltLeaf == 0 {
			r.badAt(sub, "inline page is not a leaf")
			continue
		}
		if depth+1 > boltMaxDepth {
			r.badAt(sub, "deeper than %d", boltMaxDepth)
			continue
		}
		r.leaf(inline, 0, sub, nil, nil, depth+1)
	}
}

// freelist checks the freelist page: ids below the high-water mark, none reachable from a
// bucket, none twice.
func (r *boltReader) freelist(id uint64) {
	if id == boltNoFreelist {
		return
	}
	p, ok := r.page(id, func(format string, args ...any) { r.problem("freelist: "+format, args...) })
	if !ok {
		return
	}
	if le16(p[8:])&boltFreelist == 0 {
		r.problem("freelist page %d: type %#x", id, le16(p[8:]))
		return
	}
	n, start := uint64(le16(p[10:])), uint64(boltHeader)
	if n == 0xFFFF {
		if len(p) < boltHeader+8 {
			r.problem("freelist page %d: count cut short", id)
			return
		}
		n, start = le64(p[boltHeader:]), boltHeader+8
	}
	if n > (uint64(len(p))-start)/8 {
		r.problem("freelist page %d: %d ids do not fit", id, n)
		return
	}
	free := map[uint64]bool{}
	for i := uint64(0); i < n; i++ {
		f := le64(p[start+8*i:])
		switch {
		case f < 2 || f >= r.hwm:
			r.problem("freelist: page %d outside [2, %d)", f, r.hwm)
			return
		case free[f]:
			r.problem("freelist: page %d freed twice", f)
			return
		case r.seen[f]:
			r.problem("freelist: page %d is free and in use", f)
			return
		}
		free[f] = true
	}
	r.free, r.freeOK = free, true
}

// orphans reads the leaf pages of the file that no bucket reached and the freelist does
// not list: pages cut off from their tree by a damaged branch page. Their records are put
// in the one bucket whose tree did not read (with damage in several, whose a page is cannot
// be told, and they are left).
func (r *boltReader) orphans() {
	if !r.freeOK || len(r.bad) != 1 {
		return
	}
	var path []string
	for _, p := range r.bad {
		path = p
	}
	if len(path) == 0 {
		return
	}
	for id := uint64(2); id < r.hwm; id++ {
		if r.seen[id] || r.free[id] {
			continue
		}
		p, ok := r.pageAt(id)
		if !ok || le16(p[8:])&boltLeaf == 0 {
			continue
		}
		o := &boltReader{data: r.data, pageSize: r.pageSize, hwm: r.hwm}
		o.leaf(p, id, path, nil, nil, boltMaxDepth) // depth: no sub-buckets from an orphan
		r.recs = append(r.recs, o.recs...)
		for i := id; i <= id+uint64(le32(p[12:])); i++ {
			r.seen[i] = true
		}
	}
}

// readBoltFile reads every record of a bbolt file's bytes without trusting them. It
// returns the records that could be read and what is wrong with the file (none: sound).
// It never panics: every offset is checked, and a check this code lacks surfaces as a
// recovered runtime error, reported as a problem.
func readBoltFile(data []byte) (recs []storeRecord, problems []string) {
	defer func() {
		if p := recover(); p != nil {
			problems = append(problems, fmt.Sprintf("unreadable: %v", p))
		}
	}()
	if len(data) == 0 {
		return nil, []string{"empty file (0 bytes): any toolsets it held are gone"}
	}
	m0 := readMeta(data, 0)
	var metas []boltMetaPage
	var metaProblems []string
	if m0.valid {
		metas = append(metas, m0)
		if m1 := readMeta(data, m0.pageSize); m1.valid && m1.pageSize == m0.pageSize {
			metas = append(metas, m1)
		} else {
			metaProblems = append(metaProblems, "meta page 1: "+m1.why)
		}
	} else {
		metaProblems = append(metaProblems, "meta page 0: "+m0.why)
		for ps := uint64(1024); ps <= 1<<16; ps *= 2 {
			if m1 := readMeta(data, ps); m1.valid && m1.pageSize == ps {
				metas = append(metas, m1)
				break
			}
		}
	}
	if len(metas) == 0 {
		return nil, []string{"no valid meta page (meta 0: " + m0.why + "): not a bbolt file, or both meta pages are damaged"}
	}
	// bbolt opens a file with one damaged meta page from the other one, the transaction
	// before: that is still damage (the newest write may be lost), said as such.
	defer func() { problems = append(metaProblems, problems...) }()
	// The newest meta is what bbolt would open; an older one is a consistent earlier
	// state, tried when the newest does not read cleanly.
	sort.Slice(metas, func(i, j int) bool { return metas[i].txid > metas[j].txid })
	// Salvage: what the newest tree still reaches, the leaf pages its damage cut off, and
	// then what only the previous transaction's tree holds (newest values win). A toolset
	// deleted by the very last write may so come back; the file is set aside to tell.
	var out []storeRecord
	have := map[string]bool{}
	for i, m := range metas {
		r := &boltReader{data: data, pageSize: m.pageSize, hwm: m.hwm, seen: map[uint64]bool{0: true, 1: true}}
		r.tree(m.root, nil, nil, nil, 0)
		r.freelist(m.freelist)
		if i == 0 {
			if len(r.problems) == 0 {
				return r.recs, nil
			}
			problems = r.problems
			r.orphans()
		}
		for _, rec := range r.recs {
			k := strings.Join(rec.path, "\x00") + "\x01" + string(rec.key)
			if rec.bucket {
				k = strings.Join(rec.path, "\x00") + "\x02"
			}
			if !have[k] {
				have[k] = true
				out = append(out, rec)
			}
		}
	}
	return out, problems
}

// openStore opens the bbolt store at path, first reading it as untrusted bytes (see the
// top of this file). A damaged file is renamed aside and replaced by a fresh store holding
// every record that could be read; damage then says what happened (for the log, the
// metric and the health detail). Errors are what no salvage fixes: the file cannot be
// read or locked (another process holds it), or the directory cannot be written.
func openStore(path string, now time.Time) (db *bolt.DB, damage string, err error) {
	unlock, err := lockPath(path, 2*time.Second)
	if err != nil {
		return nil, "", err
	}
	data, err := readStoreFile(path)
	if err != nil {
		unlock()
		return nil, "", err
	}
	var problems []string
	var recs []storeRecord
	if data != nil {
		recs, problems = readBoltFile(data)
	}
	if len(problems) > 0 {
		aside := path + ".damaged-" + now.UTC().Format("20060102T150405.000Z")
		if err := rebuildStore(path, aside, recs); err != nil {
			unlock()
			return nil, "", fmt.Errorf("toolset store is damaged (%s) and could not be rebuilt: %w", strings.Join(problems, "; "), err)
		}
		damage = fmt.Sprintf("toolset store was damaged (%s): set aside as %s; %d records salvaged into a fresh store",
			strings.Join(problems, "; "), filepath.Base(aside), len(recs))
	}
	unlock() // bbolt takes its own lock on its own descriptor
	db, err = guardedOpen(path)
	if err != nil && damage == "" && !environmental(err) {
		// The reader found nothing wrong but bbolt still failed on the file: damage this
		// reader does not know. Salvage what it read and start again.
		aside := path + ".damaged-" + now.UTC().Format("20060102T150405.000Z")
		if rerr := rebuildStore(path, aside, recs); rerr != nil {
			return nil, "", fmt.Errorf("%w (and the store could not be rebuilt: %v)", err, rerr)
		}
		damage = fmt.Sprintf("toolset store was damaged (%v): set aside as %s; %d records salvaged into a fresh store", err, filepath.Base(aside), len(recs))
		db, err = guardedOpen(path)
	}
	return db, damage, err
}

// environmental reports errors about the file's surroundings rather than its content:
// another process holds the lock, or the file cannot be opened.
func environmental(err error) bool {
	var pe *os.PathError
	return errors.Is(err, berrors.ErrTimeout) || errors.As(err, &pe) || errors.Is(err, os.ErrPermission)
}

// readStoreFile returns the store's bytes, nil when there is no file yet.
func readStoreFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > boltMaxStoreSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a toolset store is read at", path, st.Size(), boltMaxStoreSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// rebuildStore renames the damaged file at path to aside and writes recs into a fresh
// store at path (through a temporary file, so a crash leaves either no store or a whole one).
func rebuildStore(path, aside string, recs []storeRecord) error {
	tmp := path + ".rebuild"
	_ = os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, rec := range recs {
			if len(rec.path) == 0 { // a top-level value: bbolt holds only buckets there
				continue
			}
			b, err := tx.CreateBucketIfNotExists([]byte(rec.path[0]))
			for _, p := range rec.path[1:] {
				if err != nil {
					break
				}
				b, err = b.CreateBucketIfNotExists([]byte(p))
			}
			switch {
			case err != nil:
			case rec.bucket:
				if rec.seq > b.Sequence() {
					err = b.SetSequence(rec.seq)
				}
			default:
				err = b.Put(rec.key, rec.value)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if _, err := os.Stat(path); err == nil {
		if err := os.Rename(path, aside); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// guardedOpen opens the store with bbolt, turning a panic or memory fault inside it into
// an error. The file has been read as bytes first, so this is a second line of defence.
func guardedOpen(path string) (db *bolt.DB, err error) {
	var f *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if f != nil {
				f.Close() // releases bbolt's lock; its mapping, if made, stays (once, at start)
			}
			db, err = nil, fmt.Errorf("bbolt: %v", p)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
		var err error
		f, err = os.OpenFile(name, flag, mode)
		return f, err
	}})
}

// Package storecmp measures candidate stores for the spool on its workload:
// append an event once with its pending hook copies, settle each copy,
// reclaim space in order, recover after a restart. It is a module of its
// own so the candidates not chosen stay out of sqshook's go.mod.
package storecmp

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	bolt "go.etcd.io/bbolt"

	"github.com/sqshook/sqshook/spool"
)

const body = 1800

var hooks = []string{"tenant-1/hook-a", "tenant-2/hook-b"}

func event(i int) spool.Record {
	b := make([]byte, body)
	for j := range b {
		b[j] = byte(i*31 + j*7)
	}
	id := fmt.Sprintf("%08x-7c1e-4b7a-9d3f-%012x", i, i)
	return spool.Record{Type: "message.new", Body: b, GroupID: "channel-42", EventID: id,
		Attributes: map[string]string{"event_type": "message.new"}, Enqueued: time.Unix(1700000000, 0), Hooks: hooks}
}

// encode is a compact encoding for the key-value stores, close to the
// segment log's payload.
func encode(r spool.Record) []byte {
	var b []byte
	b = binary.AppendVarint(b, r.Enqueued.UnixNano())
	for _, s := range []string{r.Type, r.GroupID, r.DedupID, r.EventID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Attributes)))
	for k, v := range r.Attributes {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Hooks)))
	for _, h := range r.Hooks {
		b = binary.AppendUvarint(b, uint64(len(h)))
		b = append(b, h...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Body)))
	return append(b, r.Body...)
}

// decode reads back what encode wrote, copying as the spool's read-back
// does (the dispatcher needs the record, not a view into the store).
func decode(b []byte) (spool.Record, error) {
	var r spool.Record
	bad := fmt.Errorf("malformed record")
	ns, n := binary.Varint(b)
	if n <= 0 {
		return r, bad
	}
	b = b[n:]
	str := func() string {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			b = nil
			return ""
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return s
	}
	r.Enqueued = time.Unix(0, ns)
	r.Type, r.GroupID, r.DedupID, r.EventID = str(), str(), str(), str()
	na, n := binary.Uvarint(b)
	if n <= 0 {
		return r, bad
	}
	b = b[n:]
	r.Attributes = map[string]string{}
	for range na {
		k := str()
		r.Attributes[k] = str()
	}
	nh, n := binary.Uvarint(b)
	if n <= 0 {
		return r, bad
	}
	b = b[n:]
	for range nh {
		r.Hooks = append(r.Hooks, str())
	}
	body := str()
	r.Body = []byte(body)
	if len(b) != 0 {
		return r, bad
	}
	return r, nil
}

// store is the workload's interface. mode is "always" (an fsync per append),
// "group" (concurrent appends share fsyncs; each waits for its own) or "os"
// (no fsync). Settlements are not fsynced where the store allows it.
type store interface {
	Append(r spool.Record) (uint64, error)
	Settle(seq uint64, hook string) error
	// Pending counts the pending copies, reading every pending record.
	Pending() (int, error)
	Close() error
}

type opener func(dir, mode string) (store, error)

var stores = []struct {
	name string
	open opener
}{
	{"segment", openSegment},
	{"bbolt", openBolt},
	{"pebble", openPebble},
}

// --- the spool's own segment log ---

type segmentStore struct{ s *spool.Spool }

func openSegment(dir, mode string) (store, error) {
	m := map[string]spool.SyncMode{"always": spool.SyncAlways, "group": spool.SyncGroup, "os": spool.SyncOS}[mode]
	s, err := spool.Open(dir, spool.Options{Sync: m})
	return segmentStore{s}, err
}

func (g segmentStore) Append(r spool.Record) (uint64, error) {
	seq, err := g.s.Append(r)
	return uint64(seq), err
}
func (g segmentStore) Settle(seq uint64, h string) error { return g.s.Settle(spool.Seq(seq), h) }
func (g segmentStore) Close() error                      { return g.s.Close() }
func (g segmentStore) Pending() (int, error) {
	n := 0
	for e, err := range g.s.Pending(0) {
		if err != nil {
			return n, err
		}
		n += len(e.Record.Hooks)
	}
	return n, nil
}

// --- bbolt: bucket ev (seq → record), bucket pend (seq+hook → nil) ---

type boltStore struct {
	db   *bolt.DB
	mode string
	mu   sync.Mutex // serialises "always" appends (bbolt does anyway)
}

var evB, pendB = []byte("ev"), []byte("pend")

func openBolt(dir, mode string) (store, error) {
	db, err := bolt.Open(filepath.Join(dir, "spool.db"), 0o600, &bolt.Options{NoSync: mode == "os"})
	if err != nil {
		return nil, err
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(evB); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(pendB)
		return err
	})
	return &boltStore{db: db, mode: mode}, err
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func (s *boltStore) Append(r spool.Record) (uint64, error) {
	val := encode(r)
	var seq uint64
	fn := func(tx *bolt.Tx) error {
		ev := tx.Bucket(evB)
		var err error
		if seq, err = ev.NextSequence(); err != nil {
			return err
		}
		if err := ev.Put(seqKey(seq), val); err != nil {
			return err
		}
		p := tx.Bucket(pendB)
		for _, h := range r.Hooks {
			if err := p.Put(append(seqKey(seq), h...), nil); err != nil {
				return err
			}
		}
		return nil
	}
	if s.mode == "group" {
		return seq, s.db.Batch(fn) // bbolt's own group commit
	}
	return seq, s.db.Update(fn)
}

func (s *boltStore) Settle(seq uint64, h string) error {
	fn := func(tx *bolt.Tx) error {
		p := tx.Bucket(pendB)
		if err := p.Delete(append(seqKey(seq), h...)); err != nil {
			return err
		}
		k, _ := p.Cursor().Seek(seqKey(seq))
		if k == nil || binary.BigEndian.Uint64(k) != seq {
			return tx.Bucket(evB).Delete(seqKey(seq))
		}
		return nil
	}
	if s.mode == "os" {
		return s.db.Update(fn)
	}
	return s.db.Batch(fn) // no per-transaction NoSync in bbolt: settlements share fsyncs
}

func (s *boltStore) Pending() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		ev := tx.Bucket(evB)
		var last uint64
		return tx.Bucket(pendB).ForEach(func(k, _ []byte) error {
			n++
			if seq := binary.BigEndian.Uint64(k); seq != last {
				last = seq
				if _, err := decode(ev.Get(k[:8])); err != nil {
					return fmt.Errorf("seq %d: %w", seq, err)
				}
			}
			return nil
		})
	})
	return n, err
}

func (s *boltStore) Close() error { return s.db.Close() }

// --- pebble: "e"+seq → record, "p"+seq+hook → nil ---

type pebbleStore struct {
	db   *pebble.DB
	mode string
	seq  atomic.Uint64
	mu   sync.Mutex // "always": one commit (and fsync) at a time
	left sync.Map   // seq → *atomic.Int32 copies pending
}

func openPebble(dir, mode string) (store, error) {
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		return nil, err
	}
	s := &pebbleStore{db: db, mode: mode}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte("e"), UpperBound: []byte("f")})
	if err != nil {
		return nil, err
	}
	if it.Last() {
		s.seq.Store(binary.BigEndian.Uint64(it.Key()[1:]))
	}
	return s, it.Close()
}

func (s *pebbleStore) Append(r spool.Record) (uint64, error) {
	seq := s.seq.Add(1)
	b := s.db.NewBatch()
	b.Set(append([]byte("e"), seqKey(seq)...), encode(r), nil)
	for _, h := range r.Hooks {
		b.Set(append(append([]byte("p"), seqKey(seq)...), h...), nil, nil)
	}
	c := new(atomic.Int32)
	c.Store(int32(len(r.Hooks)))
	s.left.Store(seq, c)
	opts := pebble.Sync
	switch s.mode {
	case "os":
		opts = pebble.NoSync
	case "always":
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	return seq, b.Commit(opts) // concurrent Sync commits share fsyncs: pebble's group commit
}

func (s *pebbleStore) Settle(seq uint64, h string) error {
	b := s.db.NewBatch()
	b.Delete(append(append([]byte("p"), seqKey(seq)...), h...), nil)
	if c, ok := s.left.Load(seq); ok && c.(*atomic.Int32).Add(-1) == 0 {
		b.Delete(append([]byte("e"), seqKey(seq)...), nil)
		s.left.Delete(seq)
	}
	return b.Commit(pebble.NoSync)
}

func (s *pebbleStore) Pending() (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("p"), UpperBound: []byte("q")})
	if err != nil {
		return 0, err
	}
	n := 0
	var last uint64
	for it.First(); it.Valid(); it.Next() {
		n++
		if seq := binary.BigEndian.Uint64(it.Key()[1:9]); seq != last {
			last = seq
			v, closer, err := s.db.Get(append([]byte("e"), it.Key()[1:9]...))
			if err != nil {
				it.Close()
				return n, fmt.Errorf("seq %d: %w", seq, err)
			}
			_, err = decode(v)
			closer.Close()
			if err != nil {
				it.Close()
				return n, fmt.Errorf("seq %d: %w", seq, err)
			}
		}
	}
	return n, it.Close()
}

func (s *pebbleStore) Close() error { return s.db.Close() }

// --- the workload ---

func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil && !strings.HasSuffix(d.Name(), "LOCK") {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// appendAll appends n events from 16 goroutines and returns the seqs.
func appendAll(tb testing.TB, s store, n int) []uint64 {
	seqs := make([]uint64, n)
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				seq, err := s.Append(event(i))
				if err != nil {
					tb.Error(err)
					return
				}
				seqs[i] = seq
			}
		}()
	}
	wg.Wait()
	return seqs
}

// settleAll settles every copy, in append order per hook, from 16 goroutines.
func settleAll(tb testing.TB, s store, seqs []uint64) {
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(seqs); i += workers {
				for _, h := range hooks {
					if err := s.Settle(seqs[i], h); err != nil {
						tb.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkStores runs the workload on every store in each op, for one
// durability mode: 16 goroutines append n 1.8 KB events with two hook
// copies, the directory is measured, every copy is settled, the directory is
// measured again. Reported per store: events/s, disk-B/event (and x-body),
// settles/s, and after-settle-B/event (space not given back).
func BenchmarkStores(b *testing.B) {
	for _, mode := range []string{"group", "os", "always"} {
		n := 5000
		if mode == "always" {
			n = 500
		}
		b.Run("mode="+mode, func(b *testing.B) {
			type acc struct {
				tApp, tSet  time.Duration
				disk, after int64
			}
			res := make([]acc, len(stores))
			rounds := 0
			for b.Loop() {
				for i, st := range stores {
					dir := b.TempDir()
					s, err := st.open(dir, mode)
					if err != nil {
						b.Fatal(st.name, err)
					}
					t0 := time.Now()
					seqs := appendAll(b, s, n)
					res[i].tApp += time.Since(t0)
					res[i].disk += dirBytes(dir)
					t0 = time.Now()
					settleAll(b, s, seqs)
					res[i].tSet += time.Since(t0)
					if err := s.Close(); err != nil {
						b.Fatal(st.name, err)
					}
					res[i].after += dirBytes(dir)
				}
				rounds++
			}
			b.ReportMetric(0, "ns/op")
			for i, st := range stores {
				r := res[i]
				ev := float64(rounds * n)
				b.ReportMetric(ev/r.tApp.Seconds(), st.name+"-events/s")
				b.ReportMetric(float64(r.disk)/ev, st.name+"-disk-B/event")
				b.ReportMetric(float64(r.disk)/ev/body, st.name+"-x-body")
				b.ReportMetric(2*ev/r.tSet.Seconds(), st.name+"-settles/s")
				b.ReportMetric(float64(r.after)/ev, st.name+"-after-settle-B/event")
			}
		})
	}
}

// BenchmarkRecover measures, per store, a restart with 20,000 pending
// events: open, then read every pending record.
func BenchmarkRecover(b *testing.B) {
	const n = 20_000
	for _, st := range stores {
		b.Run("store="+st.name, func(b *testing.B) {
			dir := b.TempDir()
			s, err := st.open(dir, "os")
			if err != nil {
				b.Fatal(err)
			}
			appendAll(b, s, n)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				s, err := st.open(dir, "group")
				if err != nil {
					b.Fatal(err)
				}
				got, err := s.Pending()
				if err != nil || got != 2*n {
					b.Fatalf("pending copies: got %d, %v, want %d", got, err, 2*n)
				}
				s.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/recovery")
		})
	}
}

// This file holds the spool's benchmarks: Append throughput per durability
// mode against an in-memory baseline measured in the same run, Append
// latency under group commit, and bytes on disk per event.

package spool

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// benchBody is the size of the chat events the benchmarks append.
const benchBody = 1800

// benchEvent is a 1.8 KB event with two hook copies.
func benchEvent(i int) Record {
	r := testRecord(fmt.Sprintf("bench-%d", i), benchBody, "tenant-1/hook-a", "tenant-2/hook-b")
	return r
}

// memoryStore is the baseline: what holding the event in memory costs (a
// mutex and a slice append of a copy).
type memoryStore struct {
	mu   sync.Mutex
	recs []Record
}

func (m *memoryStore) Append(r Record) (Seq, error) {
	r.Body = slices.Clone(r.Body)
	m.mu.Lock()
	m.recs = append(m.recs, r)
	n := len(m.recs)
	m.mu.Unlock()
	return Seq(n), nil
}

// runAppends appends n events from `workers` goroutines and returns the
// elapsed time and, if lat is not nil, each Append's latency.
func runAppends(b *testing.B, app func(Record) (Seq, error), n, workers int, lat []time.Duration) time.Duration {
	b.Helper()
	recs := make([]Record, 64)
	for i := range recs {
		recs[i] = benchEvent(i)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				t0 := time.Now()
				if _, err := app(recs[i%len(recs)]); err != nil {
					b.Error(err)
					return
				}
				if lat != nil {
					lat[i] = time.Since(t0)
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// BenchmarkAppend compares, in one run, the rate of Append per durability
// mode with the in-memory baseline, for 1.8 KB events with two hook copies
// appended by 8 and 64 goroutines (a chat server's publishers). One op is a
// round of every variant; reported:
//
//	memory-events/s, os-events/s, group-events/s, always-events/s
//	x-memory-os, x-memory-group, x-memory-always   rate / memory rate
//	group-p50-µs, group-p99-µs                     Append latency, SyncGroup
//	disk-B/event, x-body                           bytes on disk per event, and over the body
func BenchmarkAppend(b *testing.B) {
	for _, workers := range []int{8, 64} {
		b.Run(fmt.Sprintf("publishers=%d", workers), func(b *testing.B) {
			const n, nAlways = 20_000, 2_000
			var tMem, tOS, tGroup, tAlways time.Duration
			var lat []time.Duration
			var diskPerEvent float64
			rounds := 0
			for b.Loop() {
				mem := &memoryStore{}
				tMem += runAppends(b, mem.Append, n, workers, nil)
				for _, mode := range []SyncMode{SyncOS, SyncGroup, SyncAlways} {
					s, err := Open(b.TempDir(), Options{Sync: mode})
					if err != nil {
						b.Fatal(err)
					}
					switch mode {
					case SyncOS:
						tOS += runAppends(b, s.Append, n, workers, nil)
					case SyncGroup:
						l := make([]time.Duration, n)
						tGroup += runAppends(b, s.Append, n, workers, l)
						lat = append(lat, l...)
						diskPerEvent = float64(s.Stats().Bytes) / n
					case SyncAlways:
						tAlways += runAppends(b, s.Append, nAlways, workers, nil)
					}
					s.Close()
				}
				rounds++
			}
			rate := func(events int, d time.Duration) float64 { return float64(rounds*events) / d.Seconds() }
			mem, os, group, always := rate(n, tMem), rate(n, tOS), rate(n, tGroup), rate(nAlways, tAlways)
			b.ReportMetric(0, "ns/op") // one op is a whole round: not meaningful
			b.ReportMetric(mem, "memory-events/s")
			b.ReportMetric(os, "os-events/s")
			b.ReportMetric(group, "group-events/s")
			b.ReportMetric(always, "always-events/s")
			b.ReportMetric(os/mem, "x-memory-os")
			b.ReportMetric(group/mem, "x-memory-group")
			b.ReportMetric(always/mem, "x-memory-always")
			b.ReportMetric(float64(percentile(lat, 0.5).Microseconds()), "group-p50-µs")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "group-p99-µs")
			b.ReportMetric(diskPerEvent, "disk-B/event")
			b.ReportMetric(diskPerEvent/benchBody, "x-body")
		})
	}
}

// BenchmarkRecover measures Open on a spool of 50,000 pending 1.8 KB events
// (about 100 MB): events/s indexed.
func BenchmarkRecover(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{Sync: SyncOS})
	if err != nil {
		b.Fatal(err)
	}
	const n = 50_000
	runAppends(b, s.Append, n, 4, nil)
	s.Close()
	for b.Loop() {
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if got := s.Stats().Records; got != n {
			b.Fatalf("recovered %d records, want %d", got, n)
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/recovery")
}

// BenchmarkIndexMemory reports the heap the spool keeps per pending record
// (its in-memory index; bodies stay on disk): 100,000 records of 1.8 KB with
// two hook copies, appended then measured after a GC.
func BenchmarkIndexMemory(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		s, err := Open(b.TempDir(), Options{Sync: SyncOS})
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		runAppends(b, s.Append, n, 4, nil)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/record")
		b.ReportMetric(float64(s.Stats().Bytes)/n, "disk-B/record")
		s.Close()
	}
}

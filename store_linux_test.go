// durable_linux_test.go holds the spool tests and benchmarks of
// durable.go that need Linux: a size-limited tmpfs (mount(2), as root) for a
// full disk, fdatasync(2) for the disk's own latency and timerfd(2) for the
// open-loop publishers' schedule.

package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/tmpfs"
	"github.com/sqshook/sqshook/spool"
	"github.com/sqshook/sqshook/sqstest"
)

// TestSpoolDiskFull fills a small tmpfs: Publish fails with an error that
// wraps spool.ErrDiskFull and names the event; once space is back, the next
// New delivers every event Publish accepted, and none it refused.
func TestSpoolDiskFull(t *testing.T) {
	mnt := tmpfs.Mount(t, "256k", "spool's TestDiskFull (an injected full disk)")
	dir := mnt + "/spool"
	hooks := []sqshook.Hook{hookFor("a", "qa")}
	d, _ := spoolDispatcher(t, stuckFake(), dir, hooks)
	var accepted []string
	var err error
	for i := 0; i < 1000; i++ {
		ev := event(t, "message.new", i)
		ev.ID = "ev-" + strconv.Itoa(i)
		ev.Body = []byte(`{"cid":"c","text":"` + strings.Repeat("x", 1800) + `"}`)
		if err = d.Publish(context.Background(), ev); err != nil {
			break
		}
		accepted = append(accepted, ev.ID)
	}
	if !errors.Is(err, spool.ErrDiskFull) || !strings.Contains(err.Error(), "not accepted") {
		t.Fatalf("Publish on a full disk: %v; want an error wrapping spool.ErrDiskFull that says the event was not accepted", err)
	}
	t.Logf("disk full after %d events: %v", len(accepted), err)
	d.Close(expired())

	tmpfs.Remount(t, mnt, "4m", false)
	good := newFake()
	d2, dls := spoolDispatcher(t, good, dir, hooks)
	if err := d2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := good.ackedIDs(hooks[0].SQSQueueURL)
	slices.Sort(got)
	slices.Sort(accepted)
	if !slices.Equal(got, accepted) || len(dls.list()) != 0 {
		t.Fatalf("after space came back: delivered %d events, want the %d accepted (%d dead letters)", len(got), len(accepted), len(dls.list()))
	}
}

// BenchmarkSpool compares, at a simulated 20 ms round trip with 1.8 KB
// events, the dispatcher without a spool (memory) and with one in
// group-commit mode (the default), one after the other on the same endpoint,
// under two loads:
//
//   - burst (closed loop): 64 goroutines publish 8,000 events as fast as they
//     can, far faster than SQS drains them. x-memory is the spool's
//     throughput over memory's (publishing and delivering everything);
//     burst-p50-ms and burst-p99-ms the latency of Publish with the spool,
//     burst-mem-p99-ms without, burst-os-p99-ms with a spool in SyncOS mode
//     (no fsync). On a few cores this p99 is mostly the 64 runnable
//     publishers queueing for a processor and for locks, not the spool.
//   - open (open loop): events are issued at a steady rate, open-rate, half
//     the memory-only throughput measured in the same op (what SQS drains);
//     each has a scheduled time fixed in advance and its latency counts from
//     then, so a slow Publish delays the ones after it and they count it
//     (no coordinated omission). open-p50-ms and open-p99-ms are the spool's
//     in group commit, open-mem-p99-ms memory-only (the timer and scheduler
//     floor), open-os-p99-ms SyncOS. The spools reopen the directories the
//     burst left, as a restarted server does: everything in them settled,
//     what is left is the segment file kept to be written over.
//
// disk-x-body is the spool's bytes on disk per event over the body's size,
// measured with the endpoint down so that nothing settles. fdatasync-p50-ms
// and fdatasync-p99-ms are the disk's own: a bare loop appending a group's
// worth of events (32) to a file and calling fdatasync(2), after each round;
// fdatasync-over-p50-ms and fdatasync-over-p99-ms the same loop writing over
// a file already written and synced (what a reused segment file does). A
// Publish in group-commit mode waits for at least one whole fdatasync, so
// its p99 cannot be below the disk's.
func BenchmarkSpool(b *testing.B) {
	const rtt = 20 * time.Millisecond
	const n, publishers = 8_000, 64
	const openN, openLoad = 6_000, 0.5
	env := benchNewEnv(b, benchChatBody(b, benchBodyBytes), sqstest.WithLatency(rtt), sqstest.WithoutRecording())
	defer env.close()
	var tMem, tSpool time.Duration
	var latMem, latSpool, latOS, latSync, latOver []time.Duration
	var openMem, openSpool, openOS []time.Duration
	var offered float64
	rounds := 0
	for b.Loop() {
		t, l := env.runSpooled(b, n, publishers, "", spool.SyncGroup)
		tMem += t
		latMem = append(latMem, l...)
		rate := openLoad * float64(n) / t.Seconds()
		offered += rate
		dirGroup, dirOS := b.TempDir(), b.TempDir()
		t, l = env.runSpooled(b, n, publishers, dirGroup, spool.SyncGroup)
		tSpool += t
		latSpool = append(latSpool, l...)
		_, l = env.runSpooled(b, n, publishers, dirOS, spool.SyncOS)
		latOS = append(latOS, l...)
		openMem = append(openMem, env.runOpen(b, openN, rate, "", spool.SyncGroup)...)
		openSpool = append(openSpool, env.runOpen(b, openN, rate, dirGroup, spool.SyncGroup)...)
		openOS = append(openOS, env.runOpen(b, openN, rate, dirOS, spool.SyncOS)...)
		latSync = append(latSync, benchFdatasync(b, b.TempDir(), 300, 32*len(env.body), false)...)
		latOver = append(latOver, benchFdatasync(b, b.TempDir(), 300, 32*len(env.body), true)...)
		rounds++
	}
	mem := float64(rounds*n) / tMem.Seconds()
	sp := float64(rounds*n) / tSpool.Seconds()
	b.ReportMetric(0, "ns/op") // one op is a whole round: not meaningful
	b.ReportMetric(mem, "memory-events/s")
	b.ReportMetric(sp, "spool-events/s")
	b.ReportMetric(sp/mem, "x-memory")
	b.ReportMetric(percentileMS(latSpool, 0.50), "burst-p50-ms")
	b.ReportMetric(percentileMS(latSpool, 0.99), "burst-p99-ms")
	b.ReportMetric(percentileMS(latMem, 0.99), "burst-mem-p99-ms")
	b.ReportMetric(percentileMS(latOS, 0.99), "burst-os-p99-ms")
	b.ReportMetric(offered/float64(rounds), "open-rate")
	b.ReportMetric(percentileMS(openSpool, 0.50), "open-p50-ms")
	b.ReportMetric(percentileMS(openSpool, 0.99), "open-p99-ms")
	b.ReportMetric(percentileMS(openMem, 0.99), "open-mem-p99-ms")
	b.ReportMetric(percentileMS(openOS, 0.99), "open-os-p99-ms")
	b.ReportMetric(percentileMS(latSync, 0.50), "fdatasync-p50-ms")
	b.ReportMetric(percentileMS(latSync, 0.99), "fdatasync-p99-ms")
	b.ReportMetric(percentileMS(latOver, 0.50), "fdatasync-over-p50-ms")
	b.ReportMetric(percentileMS(latOver, 0.99), "fdatasync-over-p99-ms")
	b.ReportMetric(env.spoolBytesPerEvent(b, 2_000)/float64(len(env.body)), "disk-x-body")
}

// benchFdatasync appends size bytes to a file in dir and fdatasyncs it, n
// times, and returns the duration of each fdatasync. With over, the file is
// first written to its full length and synced, and the loop writes over it.
func benchFdatasync(b *testing.B, dir string, n, size int, over bool) []time.Duration {
	b.Helper()
	f, err := os.Create(filepath.Join(dir, "fdatasync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, size)
	if over {
		if _, err := f.Write(make([]byte, n*size)); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, n)
	for i := range lat {
		if _, err := f.WriteAt(buf, int64(i*size)); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	return lat
}

func percentileMS(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[min(len(d)-1, int(q*float64(len(d))))]) / float64(time.Millisecond)
}

// spooledRun is one dispatcher of BenchmarkSpool, on a fresh queue.
type spooledRun struct {
	d    *sqshook.Dispatcher
	url  string
	dead atomic.Int64
}

// newSpooledRun starts a dispatcher delivering to a fresh queue, with a
// spool in dir (none when dir is "") in the given mode.
func (e *benchEnv) newSpooledRun(b *testing.B, dir string, mode spool.SyncMode) *spooledRun {
	b.Helper()
	r := &spooledRun{url: e.newQueue("spool")}
	opts := []sqshook.Option{
		sqshook.WithEndpoint(e.srv.URL()),
		sqshook.WithMaxInFlight(benchConcurrency),
		sqshook.WithDeadLetter(func(sqshook.DeadLetter) { r.dead.Add(1) }),
	}
	if dir != "" {
		opts = append(opts, sqshook.WithSpool(dir, spool.Options{Sync: mode}))
	}
	d, err := sqshook.New([]sqshook.Hook{benchSQSHook("bench", r.url)}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	r.d = d
	return r
}

// finish checks that publishing and flushing went well (err), that all n
// events arrived and none was dead-lettered, and closes the dispatcher.
func (r *spooledRun) finish(b *testing.B, e *benchEnv, err error, n int) {
	b.Helper()
	defer benchClose(b, r.d)
	if err != nil {
		b.Fatal(err)
	}
	if n := r.dead.Load(); n > 0 {
		b.Fatalf("%d events dead-lettered", n)
	}
	e.checkCount(b, r.url, n)
}

// runSpooled publishes n events from the given number of goroutines as fast
// as they can (closed loop), with a spool in dir (none when dir is "") in the
// given mode, flushes, and returns the time taken and the latency of every
// Publish.
func (e *benchEnv) runSpooled(b *testing.B, n, publishers int, dir string, mode spool.SyncMode) (time.Duration, []time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := e.newSpooledRun(b, dir, mode)
	lat := make([]time.Duration, n)
	start := time.Now()
	err := benchWorkers(publishers, n, func(i int) error {
		t0 := time.Now()
		err := r.d.Publish(ctx, sqshook.Event{Type: "message.new", Body: e.body})
		lat[i] = time.Since(t0)
		return err
	})
	if err == nil {
		err = r.d.Flush(ctx)
	}
	elapsed := time.Since(start)
	r.finish(b, e, err, n)
	return elapsed, lat
}

// runOpen publishes n events at a steady rate (events per second), open
// loop: event i is due at start + i/rate, fixed in advance, and its latency
// runs from that time to Publish's return, so time a publisher spends
// waiting for an earlier Publish counts (no coordinated omission). Up to 64
// publishers wait for their events' times; a spool in dir (none when dir is
// "") in the given mode.
func (e *benchEnv) runOpen(b *testing.B, n int, rate float64, dir string, mode spool.SyncMode) []time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := e.newSpooledRun(b, dir, mode)
	interval := time.Duration(float64(time.Second) / rate)
	lat := make([]time.Duration, n)
	const publishers = 64
	timers := make(chan *benchTimer, publishers)
	for range publishers {
		t := newBenchTimer(b)
		defer t.f.Close()
		timers <- t
	}
	start := time.Now().Add(10 * time.Millisecond)
	err := benchWorkers(publishers, n, func(i int) error {
		due := start.Add(time.Duration(i) * interval)
		t := <-timers
		err := t.sleepUntil(due)
		timers <- t
		if err != nil {
			return err
		}
		err = r.d.Publish(ctx, sqshook.Event{Type: "message.new", Body: e.body})
		lat[i] = time.Since(due)
		return err
	})
	if err == nil {
		err = r.d.Flush(ctx)
	}
	r.finish(b, e, err, n)
	return lat
}

// benchTimer is a timerfd(2) read through the runtime's poller, for waits
// that end on time. Not time.Sleep: when the process is idle the runtime
// waits for its timers in whole milliseconds, so a sub-millisecond
// time.Sleep ends 0.5 ms late at the median and 1.1 ms at p99 on an idle
// machine, a lateness of the load generator that open-loop latencies would
// count. Not nanosleep(2) either: a goroutine blocked in it keeps its
// processor until the runtime takes it back, which delays the others.
type benchTimer struct{ f *os.File }

func newBenchTimer(b *testing.B) *benchTimer {
	b.Helper()
	const clockMonotonic = 1
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		b.Fatalf("timerfd_create: %v", errno)
	}
	return &benchTimer{f: os.NewFile(fd, "timerfd")}
}

// sleepUntil returns at t or soon after.
func (t *benchTimer) sleepUntil(at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	spec := [2]syscall.Timespec{{}, syscall.NsecToTimespec(int64(d))} // itimerspec: no interval, value d
	raw, err := t.f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	}); err != nil {
		return err
	}
	if errno != 0 {
		return fmt.Errorf("timerfd_settime: %w", errno)
	}
	var expirations [8]byte
	_, err = t.f.Read(expirations[:])
	return err
}

// spoolBytesPerEvent publishes n events while the endpoint is down and
// returns the spool's bytes on disk per event.
func (e *benchEnv) spoolBytesPerEvent(b *testing.B, n int) float64 {
	b.Helper()
	url := e.newQueue("disk")
	d, err := sqshook.New([]sqshook.Hook{benchSQSHook("bench", url)},
		sqshook.WithEndpoint(e.srv.URL()), sqshook.WithSpool(b.TempDir(), spool.Options{}))
	if err != nil {
		b.Fatal(err)
	}
	e.srv.SetOutage(true)
	err = benchWorkers(benchPublishers, n, func(int) error {
		return d.Publish(context.Background(), sqshook.Event{Type: "message.new", Body: e.body})
	})
	s := d.Stats().Spool
	e.srv.SetOutage(false)
	benchClose(b, d)
	if err != nil {
		b.Fatal(err)
	}
	if s.Records != n {
		b.Fatalf("spool holds %d records, want %d", s.Records, n)
	}
	return float64(s.Bytes) / float64(n)
}

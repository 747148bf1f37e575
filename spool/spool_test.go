// This file tests the Spool: append, settle and reclaim, read-back order
// across reopen, quota, durability modes, the lock, and the crash test that
// kills a child process appending to the spool.

package spool

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	switch os.Getenv("SPOOL_TEST_CHILD") {
	case "crash":
		crashChild()
		return
	case "lock":
		_, err := Open(os.Getenv("SPOOL_TEST_DIR"), Options{})
		fmt.Println(err)
		return
	}
	goleak.VerifyTestMain(m)
}

func TestAppendSettleReclaim(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentSize: 4 << 10, Sync: SyncOS})
	var seqs []Seq
	for i := range 60 {
		seq, err := s.Append(testRecord(fmt.Sprintf("r%d", i), 500, "t/a", "t/b"))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if len(seqs) > 0 && seq <= seqs[len(seqs)-1] {
			t.Fatalf("Append %d: seq %d not after %d", i, seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, seq)
	}
	st := s.Stats()
	if st.Records != 60 || st.Pending != 120 || st.Segments < 5 {
		t.Fatalf("Stats after appends: got %+v, want 60 records, 120 pending, ≥ 5 segments", st)
	}
	for _, seq := range seqs {
		if err := s.Settle(seq, "t/a"); err != nil {
			t.Fatalf("Settle(%d, t/a): %v", seq, err)
		}
	}
	if got := s.Stats(); got.Segments != st.Segments || got.Pending != 60 {
		t.Fatalf("Stats after settling t/a: got %+v, want %d segments, 60 pending", got, st.Segments)
	}
	if err := s.Settle(seqs[0], "t/a"); !errors.Is(err, ErrNotPending) {
		t.Errorf("Settle twice: got %v, want ErrNotPending", err)
	}
	if err := s.Settle(seqs[0], "t/zz"); !errors.Is(err, ErrNotPending) {
		t.Errorf("Settle unknown hook: got %v, want ErrNotPending", err)
	}
	if err := s.Settle(999999, "t/a"); !errors.Is(err, ErrNotPending) {
		t.Errorf("Settle unknown seq: got %v, want ErrNotPending", err)
	}
	for _, seq := range seqs[:30] {
		if err := s.Settle(seq, "t/b"); err != nil {
			t.Fatalf("Settle(%d, t/b): %v", seq, err)
		}
	}
	mid := s.Stats()
	if mid.Segments >= st.Segments || mid.Records != 30 || mid.Bytes >= st.Bytes {
		t.Fatalf("Stats after settling half: got %+v, want fewer segments and bytes than %+v, 30 records", mid, st)
	}
	segFiles, _ := filepath.Glob(filepath.Join(dir, "*"+segExt))
	if len(segFiles) != mid.Segments {
		t.Errorf("segment files: got %d, want %d", len(segFiles), mid.Segments)
	}
	for _, seq := range seqs[30:] {
		if err := s.Settle(seq, "t/b"); err != nil {
			t.Fatalf("Settle(%d, t/b): %v", seq, err)
		}
	}
	if got := s.Stats(); got.Segments != 1 || got.Pending != 0 || got.Records != 0 {
		t.Fatalf("Stats after settling all: got %+v, want only the active segment left", got)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	if _, err := s.Append(testRecord("late", 10, "t/a")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: got %v, want ErrClosed", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"+segExt))
	acks, _ := filepath.Glob(filepath.Join(dir, "*"+ackExt))
	if len(left)+len(acks) != 0 {
		t.Errorf("files after everything settled and Close: got %v %v, want none", left, acks)
	}
}

func TestPendingOrderAcrossReopen(t *testing.T) {
	for _, mode := range []SyncMode{SyncGroup, SyncAlways, SyncOS} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: mode, SegmentSize: 8 << 10}
			s := mustOpen(t, dir, opts)
			var wg sync.WaitGroup
			var mu sync.Mutex
			acked := map[Seq]string{}
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 25 {
						id := fmt.Sprintf("w%d-%d", w, i)
						seq, err := s.Append(testRecord(id, 0, "t/a", "t/b", "u/c"))
						if err != nil {
							t.Errorf("Append %s: %v", id, err)
							return
						}
						mu.Lock()
						acked[seq] = id
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			settled := map[Seq]string{}
			for seq := range acked {
				if seq%3 == 0 {
					if err := s.Settle(seq, "t/b"); err != nil {
						t.Fatalf("Settle: %v", err)
					}
					settled[seq] = "t/b"
				}
				if seq%5 == 0 {
					for _, h := range []string{"t/a", "t/b", "u/c"} {
						if settled[seq] != h {
							if err := s.Settle(seq, h); err != nil {
								t.Fatalf("Settle: %v", err)
							}
						}
					}
					settled[seq] = "all"
				}
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s2 := mustOpen(t, dir, opts)
			got, order := pendingMap(t, s2)
			var want []Seq
			for seq := range acked {
				if settled[seq] != "all" {
					want = append(want, seq)
				}
			}
			slices.Sort(want)
			if !slices.Equal(order, want) {
				t.Fatalf("pending seqs after reopen: got %v, want %v", order, want)
			}
			for seq, e := range got {
				if e.Record.EventID != acked[seq] {
					t.Errorf("seq %d: event id got %q, want %q", seq, e.Record.EventID, acked[seq])
				}
				if err := checkRecord(e.Record, 0); err != nil {
					t.Error(err)
				}
				wantHooks := []string{"t/a", "t/b", "u/c"}
				if settled[seq] == "t/b" {
					wantHooks = []string{"t/a", "u/c"}
				}
				if !slices.Equal(e.Record.Hooks, wantHooks) {
					t.Errorf("seq %d: hooks got %v, want %v", seq, e.Record.Hooks, wantHooks)
				}
			}
			if r := s2.Recovery(); len(r.Damaged) != 0 || r.TornBytes != 0 || r.Records != len(want) {
				t.Errorf("Recovery: got %+v, want %d records, no damage", r, len(want))
			}
			seq, err := s2.Append(testRecord("after", 0, "t/a"))
			if err != nil {
				t.Fatalf("Append after reopen: %v", err)
			}
			for old := range acked {
				if seq <= old {
					t.Fatalf("Append after reopen: seq %d not after %d", seq, old)
				}
			}
			e, err := s2.Get(seq)
			if err != nil || e.Record.EventID != "after" {
				t.Fatalf("Get(%d): got %+v, %v", seq, e, err)
			}
		})
	}
}

func TestQuota(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{Sync: SyncOS, SegmentSize: 4 << 10, Quota: 20 << 10})
	var seqs []Seq
	for {
		seq, err := s.Append(testRecord(fmt.Sprintf("q%d", len(seqs)), 1000, "t/a"))
		if errors.Is(err, ErrQuota) {
			break
		}
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		seqs = append(seqs, seq)
		if len(seqs) > 100 {
			t.Fatal("Append: 100 records of 1 KB fit a 20 KiB quota, want ErrQuota")
		}
	}
	if st := s.Stats(); st.Bytes > st.Quota || st.Quota != 20<<10 {
		t.Fatalf("Stats at quota: got %+v, want Bytes ≤ Quota = %d", st, 20<<10)
	}
	for _, seq := range seqs[:len(seqs)/2] {
		if err := s.Settle(seq, "t/a"); err != nil {
			t.Fatalf("Settle: %v", err)
		}
	}
	if _, err := s.Append(testRecord("q-after", 1000, "t/a")); err != nil {
		t.Fatalf("Append after settling half: got %v, want room again", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open in this process: got %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	// Another process is refused the same way.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SPOOL_TEST_CHILD=lock", "SPOOL_TEST_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if want := "locked by process " + strconv.Itoa(os.Getpid()); !strings.Contains(string(out), want) {
		t.Fatalf("Open in another process: got %q, want an error saying %q", out, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()

	for _, o := range []Options{{Quota: -1}, {Sync: SyncMode(9)}, {GroupWindow: -1}, {SegmentSize: 2 << 30}, {MaxRecordSize: 1 << 29}} {
		if _, err := Open(t.TempDir(), o); err == nil {
			t.Errorf("Open(%+v): got nil, want an error", o)
		}
	}
}

// crashChild appends and settles until it is killed, reporting on stdout:
// "O" before Open, "A seq id hooks" after Append returned, "s seq hook"
// before Settle and "S seq hook" after it returned.
func crashChild() {
	dir := os.Getenv("SPOOL_TEST_DIR")
	mode, _ := strconv.Atoi(os.Getenv("SPOOL_TEST_MODE"))
	round := os.Getenv("SPOOL_TEST_ROUND")
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		outMu.Lock()
		os.Stdout.WriteString(line)
		outMu.Unlock()
	}
	fail := func(err error) {
		say("E %v", err)
		os.Exit(3)
	}
	say("O") // opening: a kill now lands in recovery
	s, err := Open(dir, Options{Sync: SyncMode(mode), SegmentSize: 32 << 10})
	if err != nil {
		fail(err)
	}
	type copyRef struct {
		seq  Seq
		hook string
	}
	var mu sync.Mutex
	var pending []copyRef
	for e, err := range s.Pending(0) {
		if err != nil {
			fail(err)
		}
		for _, h := range e.Record.Hooks {
			pending = append(pending, copyRef{e.Seq, h})
		}
	}
	hookSets := [][]string{{"t1/a"}, {"t1/a", "t2/b"}, {"t1/a", "t2/b", "t3/c"}}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(len(round))))
			for i := 0; ; i++ {
				if rng.IntN(3) == 0 {
					mu.Lock()
					var c copyRef
					ok := len(pending) > 0
					if ok {
						k := rng.IntN(len(pending))
						c = pending[k]
						pending[k] = pending[len(pending)-1]
						pending = pending[:len(pending)-1]
					}
					mu.Unlock()
					if ok {
						say("s %d %s", c.seq, c.hook)
						if err := s.Settle(c.seq, c.hook); err != nil {
							fail(err)
						}
						say("S %d %s", c.seq, c.hook)
					}
					continue
				}
				id := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				hooks := hookSets[rng.IntN(len(hookSets))]
				seq, err := s.Append(testRecord(id, 0, hooks...))
				if err != nil {
					fail(err)
				}
				say("A %d %s %s", seq, id, strings.Join(hooks, ","))
				mu.Lock()
				for _, h := range hooks {
					pending = append(pending, copyRef{seq, h})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashKill runs a child that appends and settles with the spool in
// SyncGroup and SyncAlways mode, kills it with SIGKILL at random moments
// (after a random count of reported operations; also at start and as Open's
// recovery begins), and checks after each kill that every acknowledged record is
// there with exactly its unsettled copies: none lost, no settled copy back.
func TestCrashKill(t *testing.T) {
	seed := uint64(rand.Int64())
	if s := os.Getenv("SPOOL_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	kills := 24
	t.Logf("crash test seed %d (rerun with SPOOL_CRASH_SEED=%d), %d kills", seed, seed, kills)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()

	type copyKey struct {
		seq  Seq
		hook string
	}
	acked := map[Seq]string{}      // seq → event id
	hooksOf := map[Seq][]string{}  // seq → hooks appended with
	settling := map[copyKey]bool{} // Settle called, maybe not returned
	settled := map[copyKey]bool{}  // Settle returned
	totalLost, totalBack := 0, 0
	for round := range kills {
		mode := []SyncMode{SyncGroup, SyncAlways}[round%2]
		killAfter := rng.IntN(400)
		switch round % 6 {
		case 0:
			killAfter = 0 // while the child starts
		case 3:
			killAfter = 1 // on its "O" line: during Open's recovery
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SPOOL_TEST_CHILD=crash", "SPOOL_TEST_DIR="+dir,
			"SPOOL_TEST_MODE="+strconv.Itoa(int(mode)), "SPOOL_TEST_ROUND="+strconv.Itoa(round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		lines := 0
		killed := false
		kill := func() {
			if !killed {
				cmd.Process.Kill()
				killed = true
			}
		}
		if killAfter == 0 {
			kill()
		}
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			if f[0] == "E" {
				kill()
				t.Fatalf("round %d: child failed: %s", round, sc.Text())
			}
			var seq uint64
			if len(f) > 1 {
				seq, _ = strconv.ParseUint(f[1], 10, 64)
			}
			switch f[0] {
			case "A":
				acked[Seq(seq)] = f[2]
				hooksOf[Seq(seq)] = strings.Split(f[3], ",")
			case "s":
				settling[copyKey{Seq(seq), f[2]}] = true
			case "S":
				settled[copyKey{Seq(seq), f[2]}] = true
			}
			lines++
			if lines >= killAfter {
				kill()
			}
		}
		kill()
		cmd.Wait()

		s, err := Open(dir, Options{Sync: mode})
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		got, _ := pendingMap(t, s)
		rec := s.Recovery()
		lost, back, unacked := 0, 0, 0
		for seq, id := range acked {
			e, ok := got[seq]
			for _, h := range hooksOf[seq] {
				k := copyKey{seq, h}
				has := ok && slices.Contains(e.Record.Hooks, h)
				switch {
				case settled[k] && has:
					back++
					t.Errorf("round %d: seq %d hook %s: settled copy pending again", round, seq, h)
				case !settling[k] && !has:
					lost++
					t.Errorf("round %d: seq %d (%s) hook %s: acknowledged copy lost", round, seq, id, h)
				}
			}
			if ok {
				if e.Record.EventID != id {
					t.Errorf("round %d: seq %d: event id got %q, want %q", round, seq, e.Record.EventID, id)
				} else if err := checkRecord(e.Record, 0); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			}
		}
		for seq := range got {
			if _, ok := acked[seq]; !ok {
				unacked++
			}
		}
		if len(rec.Damaged) != 0 {
			t.Errorf("round %d: Recovery reports damage after a kill: %+v", round, rec.Damaged)
		}
		totalLost += lost
		totalBack += back
		t.Logf("kill %2d (%s, after %3d lines): acknowledged %5d, pending %5d, lost %d, settled-back %d, kept-unacknowledged %d, torn bytes %d",
			round, mode, killAfter, len(acked), len(got), lost, back, unacked, rec.TornBytes)
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
	}
	if len(acked) < kills*10 {
		t.Errorf("acknowledged records over %d kills: got %d, want ≥ %d (the child hardly ran)", kills, len(acked), kills*10)
	}
	t.Logf("crash test: %d kills, %d acknowledged, lost %d, settled copies back %d", kills, len(acked), totalLost, totalBack)
}

func TestPendingFor(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{Sync: SyncOS, SegmentSize: 4 << 10})
	var wantA, wantB []Seq
	for i := range 30 {
		hooks := []string{"t/a"}
		if i%3 == 0 {
			hooks = []string{"t/b", "t/a"}
		}
		seq, err := s.Append(testRecord(fmt.Sprintf("p%d", i), 200, hooks...))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.Settle(seq, "t/a"); err != nil {
				t.Fatal(err)
			}
		} else {
			wantA = append(wantA, seq)
		}
		if i%3 == 0 {
			wantB = append(wantB, seq)
		}
	}
	for _, c := range []struct {
		hook string
		from Seq
		want []Seq
	}{
		{"t/a", 0, wantA},
		{"t/b", 0, wantB},
		{"t/b", wantB[3], wantB[3:]},
		{"t/none", 0, nil},
	} {
		var got []Seq
		for e, err := range s.PendingFor(c.hook, c.from) {
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(e.Record.Hooks, c.hook) {
				t.Errorf("PendingFor(%s): seq %d hooks %v lack it", c.hook, e.Seq, e.Record.Hooks)
			}
			got = append(got, e.Seq)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("PendingFor(%s, %d): got %v, want %v", c.hook, c.from, got, c.want)
		}
	}
	for _, err := range s.PendingFor("", 0) {
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("PendingFor(\"\"): got %v, want ErrInvalidRecord", err)
		}
	}
}

// TestConcurrentUse appends, settles and reads back at once (run with
// -race): every record read back is whole, and at the end the spool holds
// exactly the copies not settled.
func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentSize: 16 << 10})
	seqs := make(chan Seq, 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	left := map[Seq]bool{}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				seq, err := s.Append(testRecord(fmt.Sprintf("c%d-%d", w, i), 0, "t/a", "t/b"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				left[seq] = true
				mu.Unlock()
				seqs <- seq
			}
		}()
	}
	var settlers sync.WaitGroup
	settlers.Add(1)
	go func() {
		defer settlers.Done()
		n := 0
		for seq := range seqs {
			if err := s.Settle(seq, "t/a"); err != nil {
				t.Error(err)
			}
			if n%2 == 0 {
				if err := s.Settle(seq, "t/b"); err != nil {
					t.Error(err)
				}
				mu.Lock()
				delete(left, seq)
				mu.Unlock()
			}
			n++
		}
	}()
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			for e, err := range s.Pending(0) {
				if err != nil {
					t.Error(err)
					return
				}
				if err := checkRecord(e.Record, 0); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(seqs)
	settlers.Wait()
	close(done)
	readers.Wait()
	got, order := pendingMap(t, s)
	if len(order) != len(left) {
		t.Fatalf("pending after the run: got %d records, want %d", len(order), len(left))
	}
	for seq := range left {
		if e, ok := got[seq]; !ok || !slices.Equal(e.Record.Hooks, []string{"t/b"}) {
			t.Errorf("seq %d: got %+v, want pending for t/b only", seq, e.Record.Hooks)
		}
	}
	if st := s.Stats(); st.Records != len(left) || st.Pending != len(left) {
		t.Errorf("Stats: got %+v, want %d records and copies", st, len(left))
	}
}

// TestManyHooks settles copies on both sides of the 64th hook, whose bits
// the index keeps apart, and reads them back after a reopen.
func TestManyHooks(t *testing.T) {
	dir := t.TempDir()
	hooks := make([]string, 130)
	for i := range hooks {
		hooks[i] = fmt.Sprintf("t/h%03d", i)
	}
	s := mustOpen(t, dir, Options{Sync: SyncOS})
	seq, err := s.Append(testRecord("many", 100, hooks...))
	if err != nil {
		t.Fatal(err)
	}
	settle := []int{0, 63, 64, 65, 127, 128, 129}
	for _, i := range settle {
		if err := s.Settle(seq, hooks[i]); err != nil {
			t.Fatalf("Settle(%s): %v", hooks[i], err)
		}
	}
	if err := s.Settle(seq, hooks[64]); !errors.Is(err, ErrNotPending) {
		t.Errorf("Settle(%s) twice: got %v, want ErrNotPending", hooks[64], err)
	}
	var want []string
	for i, h := range hooks {
		if !slices.Contains(settle, i) {
			want = append(want, h)
		}
	}
	s.Close()
	s2 := mustOpen(t, dir, Options{Sync: SyncOS})
	e, err := s2.Get(seq)
	if err != nil || !slices.Equal(e.Record.Hooks, want) {
		t.Fatalf("after reopen: got %v, %v, want the %d copies not settled", e.Record.Hooks, err, len(want))
	}
	if st := s2.Stats(); st.Pending != len(want) {
		t.Errorf("Stats.Pending: got %d, want %d", st.Pending, len(want))
	}
}

// TestSpareAcrossReopen keeps the settled segment's file across Close and
// Open: the numbering goes on above the records it holds, the next segment
// is written over it, and a quota that needs its room deletes it.
func TestSpareAcrossReopen(t *testing.T) {
	s, dir, pending, _ := reusedSpool(t)
	for _, q := range pending {
		if err := s.Settle(q, "t/a"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt))
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segExt))
	if len(spares) != 1 || len(segs) != 0 {
		t.Fatalf("after Close: spares %v, segments %v; want one spare, no segment", spares, segs)
	}
	info, err := os.Stat(spares[0])
	if err != nil {
		t.Fatal(err)
	}

	s2 := mustOpen(t, dir, Options{Sync: SyncGroup, SegmentSize: 16 << 10})
	if st := s2.Stats(); st.Bytes != info.Size() || st.Segments != 0 {
		t.Fatalf("Stats after Open: %+v; want the spare's %d bytes, no segment", st, info.Size())
	}
	seq, err := s2.Append(testRecord("e000", 500, "t/a"))
	if err != nil || seq <= pending[len(pending)-1] {
		t.Fatalf("Append: seq %d, %v; want a seq after %d", seq, err, pending[len(pending)-1])
	}
	if spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt)); len(spares) != 0 {
		t.Fatalf("after Append: spares %v, want the spare reused", spares)
	}
	// What the record did not write over of an older one ends the data like
	// a torn write; the older records after it are not found.
	c, got := openCopy(t, dir, nil)
	if r := c.Recovery(); r.TornBytes >= 1200 || len(r.Damaged) != 0 || !slices.Equal(got, []Seq{seq}) {
		t.Fatalf("crash copy: Recovery %+v, pending %v; want no damage, less than an older record torn, only %d pending", r, got, seq)
	}
	if err := s2.Settle(seq, "t/a"); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	// A quota that leaves no room beside the spare: Append deletes it.
	s3 := mustOpen(t, dir, Options{SegmentSize: 16 << 10, Quota: info.Size() + 1000})
	if _, err := s3.Append(testRecord("f000", 1500, "t/a")); err != nil {
		t.Fatalf("Append needing the spare's room: %v", err)
	}
	if spares, _ := filepath.Glob(filepath.Join(dir, "*"+spareExt)); len(spares) != 0 {
		t.Fatalf("spares %v after an Append that needed their room; want none", spares)
	}
	if st := s3.Stats(); st.Bytes > info.Size()+1000 {
		t.Fatalf("Stats %+v exceed the quota %d", st, info.Size()+1000)
	}
}

// TestGroupCommitPaths appends from several goroutines in SyncGroup mode
// without a window (an Append finding no fsync running runs it itself) and
// with one (the committer runs every fsync): every Append returns, and a
// copy of the directory taken at once, as after a crash, holds every
// acknowledged record.
func TestGroupCommitPaths(t *testing.T) {
	for _, window := range []time.Duration{0, time.Millisecond} {
		t.Run(fmt.Sprintf("window=%v", window), func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{GroupWindow: window})
			var mu sync.Mutex
			var acked []Seq
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 25 {
						seq, err := s.Append(testRecord(fmt.Sprintf("w%d-%02d", w, i), 200, "t/a"))
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						acked = append(acked, seq)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			slices.Sort(acked)
			c, got := openCopy(t, dir, nil)
			if r := c.Recovery(); len(r.Damaged) != 0 || !slices.Equal(got, acked) || len(acked) != 200 {
				t.Fatalf("crash copy: Recovery %+v, %d pending; want the %d acknowledged records", r, len(got), len(acked))
			}
		})
	}
}

// durable_crash_test.go is the spool's crash test: the test binary re-executed
// as a child that publishes with the spool on and is killed with SIGKILL.

package sqshook_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/spool"
	"github.com/sqshook/sqshook/sqstest"
)

// Environment of the crash test's child process.
const (
	crashChildEnv = "SQSHOOK_CRASH_CHILD" // the run number, or "drain"
	crashDirEnv   = "SQSHOOK_CRASH_DIR"
	crashURLEnv   = "SQSHOOK_CRASH_ENDPOINT"
	crashSeedEnv  = "SQSHOOK_CRASH_SEED"
)

// Sizing of the crash test: runs killed, publishers and events per run.
const (
	crashRuns       = 24
	crashPublishers = 4
	crashPerRun     = 600 // events per run, all publishers together
)

func crashHooks(endpoint string) []sqshook.Hook {
	mk := func(id, queue string) sqshook.Hook {
		return sqshook.Hook{
			ID: id, Enabled: true, HookType: "sqs",
			SQSQueueURL: endpoint + "/" + sqstest.AccountID + "/" + queue,
			SQSRegion:   "us-east-1", SQSAuthType: "keys",
			SQSKey: "AKIAEXAMPLEEXAMPLE00", SQSSecret: "example-secret",
		}
	}
	return []sqshook.Hook{mk("std", "crash-std"), mk("fifo", "crash-fifo.fifo")}
}

// TestSpoolCrashChild is the child process of TestSpoolCrashKill; it does
// nothing unless SQSHOOK_CRASH_CHILD is set. It publishes with the spool
// on and prints "ok <id>" once Publish returned nil, "dl <hook> <id>
// <reason>" for each dead letter; with "drain" it only resumes, flushes and
// closes.
func TestSpoolCrashChild(t *testing.T) {
	run := os.Getenv(crashChildEnv)
	if run == "" {
		return // not the child: TestSpoolCrashKill runs it
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	endpoint := os.Getenv(crashURLEnv)
	say("open")
	d, err := sqshook.New(crashHooks(endpoint),
		sqshook.WithEndpoint(endpoint),
		sqshook.WithSpool(os.Getenv(crashDirEnv), spool.Options{}),
		sqshook.WithLinger(2*time.Millisecond),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: 5 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsedTime: time.Hour, MaxAttempts: 100000}),
		sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) { say("dl %s %s %s", dl.HookID, dl.Event.ID, dl.Reason) }),
	)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	say("ready")
	if run != "drain" {
		var wg sync.WaitGroup
		for g := range crashPublishers {
			wg.Go(func() {
				for i := range crashPerRun / crashPublishers {
					id := fmt.Sprintf("r%02s-g%d-%04d", run, g, i)
					body := fmt.Sprintf(`{"cid":"messaging:g%d","id":%q,"text":%q}`, g, id, strings.Repeat("x", 1000))
					ev := sqshook.Event{ID: id, Type: "message.new", Body: []byte(body)}
					if err := d.Publish(context.Background(), ev); err != nil {
						say("err %s %v", id, err)
						continue
					}
					say("ok %s", id)
				}
			})
		}
		wg.Wait()
		say("published")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		t.Errorf("Flush: %v", err)
	}
	if err := d.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	say("drained")
}

// crashRun is what the parent saw of one child process.
type crashRun struct {
	accepted []string
	dls      map[string]bool // hook + " " + id
	killed   bool
	drained  bool
	newTook  time.Duration // from "open" to "ready"; 0 when killed before
	mode     string
	lastLine string
}

// TestSpoolCrashKill re-executes the test binary as a child that publishes
// to an in-process SQS endpoint (sqstest) with the spool on, and kills it
// with SIGKILL at seeded random moments: while publishing and sending, during
// an outage of the endpoint, and while New recovers the spool. After every
// run and a final drain, each event for which Publish returned nil must be
// in both hooks' queues or reported as a dead letter for that hook.
func TestSpoolCrashKill(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		return
	}
	if testing.Short() {
		t.Skip("the crash test runs child processes; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", crashSeedEnv, err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	srv := sqstest.NewServer(sqstest.WithLatency(5*time.Millisecond), sqstest.WithSeed(int64(seed)))
	defer srv.Close()
	stdURL := srv.CreateQueue("crash-std", nil)
	fifoURL := srv.CreateQueue("crash-fifo.fifo", map[string]string{"FifoQueue": "true"})
	dir := t.TempDir()

	accepted := map[string]bool{}
	dls := map[string]bool{}
	kills := 0
	modes := []string{"publish", "sends", "outage", "recovery"}
	lastDup := 0
	newTook := 20 * time.Millisecond // how long New took in the child, "open" to "ready": the last run's
	for k := range crashRuns {
		mode := modes[k%len(modes)]
		r := runCrashChild(t, srv, dir, strconv.Itoa(k), mode, rng, newTook)
		if r.newTook > 0 {
			newTook = r.newTook
		}
		for _, id := range r.accepted {
			accepted[id] = true
		}
		for x := range r.dls {
			dls[x] = true
		}
		if r.killed {
			kills++
		}
		dup := duplicates(srv.Received(stdURL))
		t.Logf("run %2d (%-8s): killed=%t, New took %v, accepted %3d, last line %q; std-queue duplicates so far %d (+%d: copies in flight at the previous kill, sent again)",
			k, mode, r.killed, r.newTook.Round(time.Millisecond), len(r.accepted), r.lastLine, dup, dup-lastDup)
		lastDup = dup
	}
	srv.ClearFaults()
	r := runCrashChild(t, srv, dir, "drain", "drain", rng, newTook)
	for x := range r.dls {
		dls[x] = true
	}
	if !r.drained {
		t.Fatalf("drain run ended with %q before it said \"drained\"", r.lastLine)
	}
	if kills < 20 {
		t.Errorf("only %d of %d runs were killed; want at least 20", kills, crashRuns)
	}
	lost := 0
	for _, q := range []struct{ hook, url string }{{"std", stdURL}, {"fifo", fifoURL}} {
		got := map[string]bool{}
		var order []string
		for _, m := range srv.Received(q.url) {
			id := m.Attributes[sqshook.AttrEventID].StringValue
			if !got[id] {
				order = append(order, id)
			}
			got[id] = true
		}
		for id := range accepted {
			if !got[id] && !dls[q.hook+" "+id] {
				lost++
				if lost <= 10 {
					t.Errorf("hook %s: event %s was accepted but is neither in the queue nor dead-lettered", q.hook, id)
				}
			}
		}
		if q.hook == "fifo" {
			checkGroupOrder(t, order)
		}
	}
	t.Logf("%d kills, %d events accepted, %d dead letters, lost %d, duplicates in the standard queue %d (FIFO drops them by event id)",
		kills, len(accepted), len(dls), lost, duplicates(srv.Received(stdURL)))
}

// checkGroupOrder checks that each publisher's events (one FIFO group per
// publisher and run number, ids sortable within it) first reached the FIFO
// queue in publish order.
func checkGroupOrder(t *testing.T, order []string) {
	t.Helper()
	last := map[string]string{}
	bad := 0
	for _, id := range order {
		g := id[strings.Index(id, "-")+1 : strings.LastIndex(id, "-")]
		if prev, ok := last[g]; ok && id < prev {
			if bad++; bad <= 5 {
				t.Errorf("FIFO group %s: %s arrived after %s", g, id, prev)
			}
		}
		last[g] = id
	}
}

func duplicates(ms []sqstest.Message) int {
	seen := map[string]int{}
	n := 0
	for _, m := range ms {
		id := m.Attributes[sqshook.AttrEventID].StringValue
		if seen[id]++; seen[id] > 1 {
			n++
		}
	}
	return n
}

// runCrashChild runs one child and kills it at a moment picked for mode.
func runCrashChild(t *testing.T, srv *sqstest.Server, dir, run, mode string, rng *rand.Rand, newTook time.Duration) crashRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+run, crashDirEnv+"="+dir, crashURLEnv+"="+srv.URL())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
	r := crashRun{dls: map[string]bool{}, mode: mode}
	killAt := -1 // "ok" lines seen before the kill
	var timer *time.Timer
	switch mode {
	case "publish": // while publishing, sends under way
		killAt = 1 + rng.IntN(crashPerRun/2)
	case "sends": // mostly sends, publishing ends
		killAt = crashPerRun/2 + rng.IntN(crashPerRun/2)
	case "outage": // the endpoint answers 503 to every call
		killAt = 1 + rng.IntN(crashPerRun-1)
	}
	oks := 0
	var opened time.Time
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if line != "PASS" {
			r.lastLine = line
		}
		f := strings.Fields(line)
		switch {
		case line == "open":
			opened = time.Now()
			if mode == "recovery" {
				// New opens the spool, reports damage and resumes: kill
				// it within the time New took last time.
				timer = time.AfterFunc(time.Duration(rng.Int64N(int64(newTook)+1)), kill)
			}
		case line == "ready":
			r.newTook = time.Since(opened)
			if mode == "outage" {
				srv.SetOutage(true)
			}
		case line == "drained":
			r.drained = true
		case len(f) == 2 && f[0] == "ok":
			r.accepted = append(r.accepted, f[1])
			if oks++; oks == killAt {
				kill()
			}
		case len(f) == 4 && f[0] == "dl":
			r.dls[f[1]+" "+f[2]] = true
		}
	}
	if timer != nil {
		timer.Stop()
	}
	err = cmd.Wait()
	srv.SetOutage(false)
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		r.killed = true
	} else if err != nil {
		t.Fatalf("run %s: child failed: %v (last line %q)", run, err, r.lastLine)
	}
	slices.Sort(r.accepted)
	return r
}

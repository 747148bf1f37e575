// scenario_crash_test.go is the spool's crash test: the test binary re-executed
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

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
	crashStdEnv   = "SQSHOOK_CRASH_STD"  // the standard queue's URL
	crashFIFOEnv  = "SQSHOOK_CRASH_FIFO" // the FIFO queue's URL
)

// Sizing of the crash test: runs killed, publishers and events per run.
const (
	crashPublishers = 4
)

// The child's number of events per run, all publishers together.
var crashPerRun = 600

func init() {
	if n, err := strconv.Atoi(os.Getenv("SQSHOOK_CRASH_PER_RUN")); err == nil && n > 0 {
		crashPerRun = n
	}
}

func crashHooks(stdURL, fifoURL string) []sqshook.Hook {
	mk := func(id, url string) sqshook.Hook {
		return sqshook.Hook{
			ID: id, Enabled: true, HookType: "sqs", SQSQueueURL: url,
			SQSRegion: "us-east-1", SQSAuthType: "keys",
			SQSKey: "AKIAEXAMPLEEXAMPLE00", SQSSecret: "example-secret",
		}
	}
	return []sqshook.Hook{mk("std", stdURL), mk("fifo", fifoURL)}
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
	d, err := sqshook.New(crashHooks(os.Getenv(crashStdEnv), os.Getenv(crashFIFOEnv)),
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

// crashTarget is the SQS endpoint of a crash series and how to read it.
type crashTarget struct {
	endpoint        string
	stdURL, fifoURL string
	perRun          int
	outage          func(on bool) // nil: the endpoint cannot have one
	// received returns the event ids each queue accepted so far, in the
	// order it accepted them (duplicates included).
	received func(url string) []string
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
	srv := sqstest.NewServer(sqstest.WithLatency(5 * time.Millisecond))
	defer srv.Close()
	tg := crashTarget{
		endpoint: srv.URL(),
		stdURL:   srv.CreateQueue("crash-std", nil),
		fifoURL:  srv.CreateQueue("crash-fifo.fifo", map[string]string{"FifoQueue": "true"}),
		perRun:   600,
		outage:   srv.SetOutage,
		received: func(url string) []string {
			var ids []string
			for _, m := range srv.Received(url) {
				ids = append(ids, m.Attributes[sqshook.AttrEventID].StringValue)
			}
			return ids
		},
	}
	crashSeries(t, tg, 24, []string{"publish", "sends", "outage", "recovery"})
}

// TestSpoolCrashKillEmulator is the crash test against the SQS emulator
// (which has no outage switch): 21 kills while publishing, while sending
// and while New recovers the spool.
func TestSpoolCrashKillEmulator(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		return
	}
	if testing.Short() {
		t.Skip("the crash test runs child processes; skipped with -short")
	}
	std, client, _ := emulatorQueue(t, "crash-std", nil)
	fifo, _, _ := emulatorQueue(t, "crash-fifo", map[string]string{"FifoQueue": "true"})
	seen := map[string][]string{}
	tg := crashTarget{
		endpoint: emulator(t),
		stdURL:   std.SQSQueueURL,
		fifoURL:  fifo.SQSQueueURL,
		perRun:   300,
		received: func(url string) []string {
			seen[url] = append(seen[url], receiveIDs(t, client, url)...)
			return seen[url]
		},
	}
	crashSeries(t, tg, 21, []string{"publish", "sends", "recovery"})
}

// receiveIDs receives and deletes every message the queue holds and
// returns their event ids in the order received. It stops at the first
// receive that waited a second for nothing: the children that sent them
// have exited.
func receiveIDs(t *testing.T, client *sqs.Client, url string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ids []string
	for {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			return ids
		}
		entries := make([]types.DeleteMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			ids = append(ids, aws.ToString(m.MessageAttributes[sqshook.AttrEventID].StringValue))
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		if _, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries}); err != nil {
			t.Fatalf("DeleteMessageBatch: %v", err)
		}
	}
}

// crashSeries runs the child runs times, killing it at a moment picked for
// each run's mode in turn, then a last run that drains, and checks that no
// accepted event is lost.
func crashSeries(t *testing.T, tg crashTarget, runs int, modes []string) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", crashSeedEnv, err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()

	accepted := map[string]bool{}
	dls := map[string]bool{}
	kills := 0
	lastDup := 0
	newTook := 20 * time.Millisecond // how long New took in the child, "open" to "ready": the last run's
	for k := range runs {
		mode := modes[k%len(modes)]
		r := runCrashChild(t, tg, dir, strconv.Itoa(k), mode, rng, newTook)
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
		dup := duplicates(tg.received(tg.stdURL))
		t.Logf("run %2d (%-8s): killed=%t, New took %v, accepted %3d, last line %q; std-queue duplicates so far %d (+%d: copies in flight at the previous kill, sent again)",
			k, mode, r.killed, r.newTook.Round(time.Millisecond), len(r.accepted), r.lastLine, dup, dup-lastDup)
		lastDup = dup
	}
	r := runCrashChild(t, tg, dir, "drain", "drain", rng, newTook)
	for x := range r.dls {
		dls[x] = true
	}
	if !r.drained {
		t.Fatalf("drain run ended with %q before it said \"drained\"", r.lastLine)
	}
	if kills < 20 {
		t.Errorf("only %d of %d runs were killed; want at least 20", kills, runs)
	}
	lost := 0
	for _, q := range []struct{ hook, url string }{{"std", tg.stdURL}, {"fifo", tg.fifoURL}} {
		got := map[string]bool{}
		var order []string
		for _, id := range tg.received(q.url) {
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
		kills, len(accepted), len(dls), lost, duplicates(tg.received(tg.stdURL)))
}

// checkGroupOrder checks that each publisher's events (one FIFO group per
// publisher, ids sortable within it) first reached the FIFO queue in
// publish order.
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

func duplicates(ids []string) int {
	seen := map[string]int{}
	n := 0
	for _, id := range ids {
		if seen[id]++; seen[id] > 1 {
			n++
		}
	}
	return n
}

// runCrashChild runs one child and kills it at a moment picked for mode.
func runCrashChild(t *testing.T, tg crashTarget, dir, run, mode string, rng *rand.Rand, newTook time.Duration) crashRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+run, crashDirEnv+"="+dir, crashURLEnv+"="+tg.endpoint,
		crashStdEnv+"="+tg.stdURL, crashFIFOEnv+"="+tg.fifoURL, "SQSHOOK_CRASH_PER_RUN="+strconv.Itoa(tg.perRun))
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
		killAt = 1 + rng.IntN(tg.perRun/2)
	case "sends": // mostly sends, publishing ends
		killAt = tg.perRun/2 + rng.IntN(tg.perRun/2)
	case "outage": // the endpoint answers 503 to every call
		killAt = 1 + rng.IntN(tg.perRun-1)
	}
	oks := 0
	var opened time.Time
	outage := false
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
			if mode == "outage" && tg.outage != nil {
				tg.outage(true)
				outage = true
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
	if outage {
		tg.outage(false)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		r.killed = true
	} else if err != nil {
		t.Fatalf("run %s: child failed: %v (last line %q)", run, err, r.lastLine)
	}
	slices.Sort(r.accepted)
	return r
}

// scenario_fleet_crash_test.go is the fleet's crash test: three processes
// (the test binary re-executed) share one PostgreSQL schema and publish to
// three hooks whose SQS (sqstest, in the parent) throttles, fails and goes
// out, while the parent kills one of them with SIGKILL every 1–3 s and
// restarts it.

package sqshook_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
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

	"github.com/jackc/pgx/v5"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// Environment of the fleet crash test's child process.
const (
	fleetChildEnv  = "SQSHOOK_FLEET_CHILD" // the instance's name: slot and run
	fleetSlotEnv   = "SQSHOOK_FLEET_SLOT"  // the slot: its groups are its own
	fleetPGEnv     = "SQSHOOK_FLEET_PG"
	fleetSchemaEnv = "SQSHOOK_FLEET_SCHEMA"
	fleetSQSEnv    = "SQSHOOK_FLEET_SQS"
	fleetQueuesEnv = "SQSHOOK_FLEET_QUEUES" // std, std2 and fifo URLs, comma-separated
	fleetKillsEnv  = "SQSHOOK_FLEET_KILLS"  // kills, at least 20 in CI
	fleetSeedEnv   = "SQSHOOK_FLEET_SEED"
)

// Sizing of the fleet crash test.
const (
	fleetSlots      = 3
	fleetGroups     = 3                       // publishers (and FIFO groups) per process
	fleetPace       = 20 * time.Millisecond   // between one publisher's events
	fleetLease      = time.Second             // the children's lease
	fleetFetchAhead = 200                     // the children's copies in flight per hook
	fleetCIKills    = 20                      // the least CI runs
	fleetTakeover   = 30 * time.Second        // a dead instance's hooks must be taken by then
	fleetDrain      = 90 * time.Second        // the last instance's bound to deliver the rest
	fleetPubTimeout = 10 * time.Second        // a child's bound on one Publish
	fleetOutage     = 1500 * time.Millisecond // each of the SQS outages
)

func fleetHooks(urls []string) []sqshook.Hook {
	names := []string{"std", "std2", "fifo"}
	hooks := make([]sqshook.Hook, len(urls))
	for i, u := range urls {
		hooks[i] = sqshook.Hook{
			ID: names[i], Enabled: true, HookType: "sqs", SQSQueueURL: u,
			SQSRegion: "us-east-1", SQSAuthType: "keys",
			SQSKey: "AKIAEXAMPLEEXAMPLE00", SQSSecret: "example-secret",
		}
	}
	return hooks
}

// TestPostgresFleetCrashChild is one process of TestPostgresFleetCrash; it
// does nothing unless SQSHOOK_FLEET_CHILD is set. It publishes until
// killed: each publisher its own FIFO group, one event in three through
// PublishTx (one of those in ten rolled back), printing "ok <id>" once
// Publish returned nil (or the transaction committed), "err <id> <error>"
// and "dl <hook> <id>" for a dead letter.
func TestPostgresFleetCrashChild(t *testing.T) {
	name := os.Getenv(fleetChildEnv)
	if name == "" {
		return
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	ctx := context.Background()
	pool := pgTestPool(t, os.Getenv(fleetPGEnv))
	opts := sqshook.PostgresOptions{Schema: os.Getenv(fleetSchemaEnv), Lease: fleetLease, Poll: 20 * time.Millisecond,
		FetchAhead: fleetFetchAhead, InstanceID: name}
	d, err := sqshook.New(fleetHooks(strings.Split(os.Getenv(fleetQueuesEnv), ",")),
		sqshook.WithPostgres(pool, opts),
		sqshook.WithEndpoint(os.Getenv(fleetSQSEnv)),
		sqshook.WithLinger(2*time.Millisecond),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: 5 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: time.Hour, MaxAttempts: 100000}),
		sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) { say("dl %s %s %s", dl.HookID, dl.Event.ID, dl.Reason) }),
	)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	say("ready")
	slot := os.Getenv(fleetSlotEnv)
	var wg sync.WaitGroup
	for g := range fleetGroups {
		wg.Go(func() {
			tick := time.NewTicker(fleetPace)
			defer tick.Stop()
			group := fmt.Sprintf("%s-g%d", slot, g)
			for i := 0; ; i++ {
				<-tick.C
				id := fmt.Sprintf("%s-g%d-%06d", name, g, i)
				body := fmt.Sprintf(`{"type":"message.new","group":%q,"seq":%d,"id":%q}`, group, i, id)
				ev := sqshook.Event{ID: id, Type: "message.new", GroupID: group, Body: []byte(body)}
				pctx, cancel := context.WithTimeout(ctx, fleetPubTimeout)
				var err error
				if i%3 == 0 {
					err = fleetPublishTx(pctx, pool, d, ev, i%30 == 0)
				} else {
					err = d.Publish(pctx, ev)
				}
				cancel()
				switch {
				case err == errRolledBack:
				case err != nil:
					say("err %s %v", id, err)
				default:
					say("ok %s", id)
				}
			}
		})
	}
	wg.Wait() // never: the parent kills the process
}

var errRolledBack = fmt.Errorf("rolled back")

// fleetPublishTx publishes ev in a transaction and commits it, or rolls it
// back (returning errRolledBack).
func fleetPublishTx(ctx context.Context, pool interface {
	Begin(context.Context) (pgx.Tx, error)
}, d *sqshook.Dispatcher, ev sqshook.Event, rollback bool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := d.PublishTx(ctx, tx, ev); err != nil {
		return err
	}
	if rollback {
		return errRolledBack
	}
	return tx.Commit(ctx)
}

// fleetProc is one running child.
type fleetProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once its output is read and it has exited
	ok   []string      // ids whose Publish returned nil
	errs []string
	dls  []string
}

// fleetKill is one kill: when, whose hooks it owned then, and when each
// was owned by another instance.
type fleetKill struct {
	at       time.Time
	victim   string
	hooks    []string
	takenAt  map[string]time.Time
	unsolved []string
}

// TestPostgresFleetCrash runs three processes on one database schema, each
// publishing to three hooks (two standard queues and a FIFO one with nine
// groups) on an SQS that throttles, fails with 5xx and goes out twice,
// while the parent SIGKILLs one of them every 1–3 s and restarts it
// (SQSHOOK_FLEET_KILLS times; at least 20 in CI). Then all stop, a last
// instance drains, and: every event the database holds (committed) is in
// each queue, nothing else is; each FIFO group is in order; duplicates in
// the standard queues are within what the killed instances held in flight;
// every hook a killed instance owned is taken over by another instance.
func TestPostgresFleetCrash(t *testing.T) {
	if os.Getenv(fleetChildEnv) != "" {
		return
	}
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("the fleet crash test runs child processes; skipped with -short")
	}
	pgURL := pgTestURL(t)
	kills := fleetCIKills
	if s := os.Getenv(fleetKillsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", fleetKillsEnv, s)
		}
		kills = n
	}
	if os.Getenv("CI") != "" && kills < fleetCIKills {
		kills = fleetCIKills
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(fleetSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", fleetSeedEnv, err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d), %d kills", seed, fleetSeedEnv, seed, kills)
	rng := rand.New(rand.NewPCG(seed, 2))

	schema := pgTestSchema(t, pgURL)
	pool := pgTestPool(t, pgURL)
	popts := sqshook.PostgresOptions{Schema: schema}
	ctx := context.Background()
	if err := sqshook.MigratePostgres(ctx, pool, popts); err != nil {
		t.Fatalf("MigratePostgres: %v", err)
	}
	srv := sqstest.NewServer(sqstest.WithSeed(int64(seed)))
	defer srv.Close()
	urls := []string{
		srv.CreateQueue("fleet-std", nil),
		srv.CreateQueue("fleet-std2", nil),
		srv.CreateQueue("fleet.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"}),
	}
	hookNames := []string{"std", "std2", "fifo"}
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Probability: 0.05})
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Status: 500, Probability: 0.05})
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "ServiceUnavailable", Probability: 0.02})

	var mu sync.Mutex
	var procs []*fleetProc
	start := func(slot, run int) *fleetProc {
		p := &fleetProc{name: fmt.Sprintf("s%d-r%03d", slot, run), done: make(chan struct{})}
		cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresFleetCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), fleetChildEnv+"="+p.name, fleetSlotEnv+"="+fmt.Sprintf("s%d", slot),
			fleetPGEnv+"="+pgURL, fleetSchemaEnv+"="+schema, fleetSQSEnv+"="+srv.URL(),
			fleetQueuesEnv+"="+strings.Join(urls, ","))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", p.name, err)
		}
		p.cmd = cmd
		go func() {
			defer close(p.done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.SplitN(sc.Text(), " ", 3)
				mu.Lock()
				switch f[0] {
				case "ok":
					p.ok = append(p.ok, f[1])
				case "err":
					p.errs = append(p.errs, sc.Text())
				case "dl":
					p.dls = append(p.dls, sc.Text())
				}
				mu.Unlock()
			}
			_ = cmd.Wait()
		}()
		mu.Lock()
		procs = append(procs, p)
		mu.Unlock()
		return p
	}
	kill := func(p *fleetProc) {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	running := make([]*fleetProc, fleetSlots)
	runs := make([]int, fleetSlots)
	for s := range running {
		running[s] = start(s, 0)
	}
	defer func() {
		for _, p := range running {
			if p != nil {
				kill(p)
			}
		}
	}()

	leaseTable := pgx.Identifier{schema, "sqshook_lease"}.Sanitize()
	hookTable := pgx.Identifier{schema, "sqshook_hook"}.Sanitize()
	owners := func() map[string]string { // hook → live owner
		rows, err := pool.Query(ctx, "SELECT h.hook_id, l.owner FROM "+leaseTable+" l JOIN "+hookTable+
			" h ON h.id = l.hook WHERE l.until > now()")
		if err != nil {
			t.Errorf("reading leases: %v", err)
			return nil
		}
		m := map[string]string{}
		for rows.Next() {
			var h, o string
			if err := rows.Scan(&h, &o); err == nil {
				m[h] = o
			}
		}
		rows.Close()
		return m
	}

	// Kill one every 1–3 s; two SQS outages on the way.
	var ks []*fleetKill
	var watch sync.WaitGroup
	began := time.Now()
	for k := range kills {
		wait := time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
		timer := time.NewTimer(wait)
		<-timer.C
		if k == kills/3 || k == 2*kills/3 {
			srv.Outage(fleetOutage)
		}
		// Half the kills hit an owner of a hook, when there is one (the
		// hooks tend to gather on one instance).
		own := owners()
		s := rng.IntN(fleetSlots)
		var ownerSlots []int
		for i, p := range running {
			if slices.Contains(slices.Collect(maps.Values(own)), p.name) {
				ownerSlots = append(ownerSlots, i)
			}
		}
		if len(ownerSlots) > 0 && rng.IntN(2) == 0 {
			s = ownerSlots[rng.IntN(len(ownerSlots))]
		}
		victim := running[s]
		fk := &fleetKill{victim: victim.name, takenAt: map[string]time.Time{}}
		for h, o := range own {
			if o == victim.name {
				fk.hooks = append(fk.hooks, h)
			}
		}
		fk.at = time.Now()
		kill(victim)
		runs[s]++
		running[s] = start(s, runs[s])
		ks = append(ks, fk)
		if len(fk.hooks) == 0 {
			continue
		}
		watch.Go(func() {
			deadline := fk.at.Add(fleetTakeover)
			for len(fk.takenAt) < len(fk.hooks) && time.Now().Before(deadline) {
				own := owners()
				now := time.Now()
				for _, h := range fk.hooks {
					if o, ok := own[h]; ok && o != fk.victim {
						if _, seen := fk.takenAt[h]; !seen {
							fk.takenAt[h] = now
						}
					}
				}
				time.Sleep(5 * time.Millisecond) // polling the lease table
			}
			for _, h := range fk.hooks {
				if _, ok := fk.takenAt[h]; !ok {
					fk.unsolved = append(fk.unsolved, h)
				}
			}
		})
	}
	watch.Wait()
	for s, p := range running {
		kill(p)
		running[s] = nil
	}
	killing := time.Since(began)

	// The faults hit the fleet: throttles, 5xx, the outages.
	calls := srv.Calls()
	for _, kind := range []string{"RequestThrottled", "InternalError", "ServiceUnavailable", "Outage"} {
		if calls.Injected[kind] == 0 {
			t.Errorf("no %s injected (%v)", kind, calls.Injected)
		}
	}
	t.Logf("SQS faults injected: %v", calls.Injected)

	// The last instance, in this process, on a quiet SQS.
	srv.ClearFaults()
	srv.SetOutage(false)
	drainStart := time.Now()
	last := startDispatcher(t, fleetHooks(urls),
		sqshook.WithPostgres(pgTestPool(t, pgURL), sqshook.PostgresOptions{Schema: schema, Lease: fleetLease, Poll: 20 * time.Millisecond, InstanceID: "drain"}),
		sqshook.WithEndpoint(srv.URL()), sqshook.WithLinger(time.Millisecond), sqshook.WithRetryPolicy(fastRetries))
	_ = last
	copyTable := pgx.Identifier{schema, "sqshook_copy"}.Sanitize()
	deadline := time.Now().Add(fleetDrain)
	for {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+copyTable).Scan(&n); err != nil {
			t.Fatalf("counting copies: %v", err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d copies not delivered %v after the last kill", n, fleetDrain)
		}
		time.Sleep(10 * time.Millisecond) // polling the copy table
	}
	drained := time.Since(drainStart)

	// What the database holds is what was committed.
	committed := map[string]bool{}
	rows, err := pool.Query(ctx, "SELECT event_id FROM "+pgx.Identifier{schema, "sqshook_event"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if committed[id] {
			t.Errorf("event %s recorded twice", id)
		}
		committed[id] = true
	}
	mu.Lock()
	okCount := 0
	for _, p := range procs {
		for _, id := range p.ok {
			okCount++
			if !committed[id] {
				t.Errorf("%s: Publish of %s returned nil, the event is not in the database", p.name, id)
			}
		}
		for _, l := range p.errs {
			t.Errorf("%s: %s", p.name, l)
		}
		for _, l := range p.dls {
			t.Errorf("%s: dead letter: %s", p.name, l)
		}
	}
	mu.Unlock()
	if okCount == 0 || len(committed) == 0 {
		t.Fatalf("nothing published (%d acknowledged, %d committed)", okCount, len(committed))
	}

	killsAt := 0
	for _, k := range ks {
		if len(k.hooks) > 0 {
			killsAt++
		}
	}
	for i, u := range urls {
		msgs := srv.Received(u)
		got := map[string]int{}
		for _, m := range msgs {
			got[m.Attributes[sqshook.AttrEventID].StringValue]++
		}
		lost, dups := 0, 0
		for id := range committed {
			if got[id] == 0 {
				lost++
				if lost <= 5 {
					t.Errorf("%s: committed event %s not delivered", hookNames[i], id)
				}
			}
		}
		for id, c := range got {
			if !committed[id] {
				t.Errorf("%s: event %s delivered, not committed", hookNames[i], id)
			}
			dups += c - 1
		}
		if lost > 0 {
			t.Errorf("%s: %d of %d committed events lost", hookNames[i], lost, len(committed))
		}
		// A killed instance held at most FetchAhead copies of each hook it
		// owned; only those can reach the queue twice.
		if bound := killsAt * fleetFetchAhead; dups > bound {
			t.Errorf("%s: %d duplicates, more than the %d kills of an owner could leave in flight (%d)", hookNames[i], dups, killsAt, bound)
		}
		if hookNames[i] == "fifo" {
			last := map[string]string{}
			for _, m := range msgs {
				id := m.Attributes[sqshook.AttrEventID].StringValue
				if prev, ok := last[m.GroupID]; ok && fleetSeq(id) <= fleetSeq(prev) {
					t.Errorf("fifo group %s: %s after %s", m.GroupID, id, prev)
				}
				last[m.GroupID] = id
			}
			if len(last) != fleetSlots*fleetGroups {
				t.Errorf("fifo: %d groups, want %d", len(last), fleetSlots*fleetGroups)
			}
		}
		t.Logf("%s: %d committed events, %d messages, %d duplicates (%.2f per kill of an owner)",
			hookNames[i], len(committed), len(msgs), dups, float64(dups)/float64(max(killsAt, 1)))
	}

	// Takeover: from the kill to the lease owned by another instance, and
	// to that hook's next delivery.
	var leased, delivered []time.Duration
	for _, k := range ks {
		for _, h := range k.unsolved {
			t.Errorf("hook %s of %s (killed at +%v) not taken over within %v", h, k.victim, k.at.Sub(began).Round(time.Millisecond), fleetTakeover)
		}
		for h, at := range k.takenAt {
			leased = append(leased, at.Sub(k.at))
			u := urls[slices.Index(hookNames, h)]
			for _, m := range srv.Received(u) {
				if !m.ReceivedAt.Before(at) {
					delivered = append(delivered, m.ReceivedAt.Sub(k.at))
					break
				}
			}
		}
	}
	if len(leased) == 0 {
		t.Errorf("no kill hit an instance owning a hook in %d kills", len(ks))
	}
	t.Logf("%d kills (%d of an owner) in %v, %d processes; %d events committed (%d acknowledged), drained in %v",
		len(ks), killsAt, killing.Round(time.Millisecond), len(procs), len(committed), okCount, drained.Round(time.Millisecond))
	t.Logf("takeover (lease %v): lease taken p50 %v max %v; next delivery p50 %v max %v (%d hooks)",
		fleetLease, pctl(leased, 50), pctl(leased, 100), pctl(delivered, 50), pctl(delivered, 100), len(leased))
}

// fleetSeq orders a child's event ids within a group: by run, then by
// sequence ("s1-r004-g2-000123").
func fleetSeq(id string) string {
	f := strings.Split(id, "-")
	if len(f) != 4 {
		return id
	}
	return f[1] + "-" + f[3]
}

// pctl is the p-th percentile of ds (0 when empty).
func pctl(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(min(i, len(s))-1, 0)].Round(time.Millisecond)
}

// demopostgres.go is the fleet demo (sqshook demo -postgres URL): several
// dispatchers in this process share one PostgreSQL database, each with
// its own pool and instance id, as the servers of a fleet would; each
// publishes its share of the traffic, the instance that owns a hook's
// lease delivers it, one instance is stopped a third of the way in and
// the others take its hooks over; at the end the demo compares what each
// queue received with what was published.
//
// The instances run in this process, not as child processes: the demo
// then needs nothing but its own binary and works the same on every
// system, it reads each instance's Stats directly to show who delivered
// what, and it can stop an instance as a crash would (its SQS calls and
// its database connections cut, nothing released) without signals.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// demoDropEntries, when positive, makes the demo's SQS clients
// acknowledge that many entries without sending them, as a queue that
// loses messages would: the demo's check must then fail. Tests set it.
var demoDropEntries atomic.Int64

// postgresArgs lets "-postgres" be given without a value, meaning
// $DATABASE_URL: a "-postgres" that is last or followed by another flag
// becomes "-postgres=".
func postgresArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if (a == "-postgres" || a == "--postgres") && (i+1 == len(args) || strings.HasPrefix(args[i+1], "-")) {
			a = "-postgres="
		}
		out = append(out, a)
	}
	return out
}

// pgInstance is one dispatcher of the demo's fleet.
type pgInstance struct {
	id   string
	pool *pgxpool.Pool
	d    *sqshook.Dispatcher
	cut  chan struct{} // closed when the instance is stopped as a crash: its SQS calls hang

	stopPub chan struct{} // closed to stop its publisher
	pubDone chan struct{}
	pub     atomic.Int64 // events published
	pubErrs atomic.Int64
	events  []pgDemoEvent // what it published; read once pubDone is closed

	deadMu sync.Mutex
	dead   map[string]map[string]bool // hook → event ids dead-lettered

	stoppedAt time.Duration // since the start; 0: running
}

type pgDemoEvent struct{ id, typ string }

// cuttableSQS is an instance's SQS client: once cut, its calls wait for
// their context to end, as a dead process's never answer; while
// demoDropEntries is positive it acknowledges entries without sending them.
type cuttableSQS struct {
	*sqs.Client
	cut <-chan struct{}
}

func (c cuttableSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	select {
	case <-c.cut:
		<-ctx.Done()
		return nil, ctx.Err()
	default:
	}
	var dropped []types.SendMessageBatchResultEntry
	keep := in.Entries[:0:0]
	for _, e := range in.Entries {
		if demoDropEntries.Load() > 0 && demoDropEntries.Add(-1) >= 0 {
			dropped = append(dropped, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("dropped-" + aws.ToString(e.Id))})
			continue
		}
		keep = append(keep, e)
	}
	if len(dropped) == 0 {
		return c.Client.SendMessageBatch(ctx, in, opts...)
	}
	out := &sqs.SendMessageBatchOutput{}
	if len(keep) > 0 {
		cp := *in
		cp.Entries = keep
		o, err := c.Client.SendMessageBatch(ctx, &cp, opts...)
		if err != nil {
			return nil, err
		}
		out = o
	}
	out.Successful = append(out.Successful, dropped...)
	return out, nil
}

func (c cuttableSQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	select {
	case <-c.cut:
		<-ctx.Done()
		return nil, ctx.Err()
	default:
	}
	return c.Client.SendMessage(ctx, in, opts...)
}

func demoPostgres(ctx context.Context, c demoConfig, out io.Writer) error {
	out = &lockedWriter{w: out}
	config := []byte(demoHooks)
	if c.hooks != "" {
		b, err := os.ReadFile(c.hooks)
		if err != nil {
			return err
		}
		config = b
	}
	hooks, err := sqshook.ParseHooks(config)
	if err != nil {
		return err
	}
	srv, endpoint, client := demoSQS(c, out)
	if srv != nil {
		defer srv.Close()
	}
	for _, h := range hooks {
		if err := createQueue(ctx, client, h.SQSQueueURL); err != nil {
			return fmt.Errorf("creating the queue of hook %s: %w", h.ID, err)
		}
	}

	// The URL may hold a password: output and errors name the database, not the URL.
	cfg, err := pgxpool.ParseConfig(c.postgres)
	if err != nil {
		return errors.New("-postgres: not a PostgreSQL URL or connection string")
	}
	where := fmt.Sprintf("database %q on %s:%d", cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	admin, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		return fmt.Errorf("-postgres: %s: %w", where, err)
	}
	defer admin.Close()
	pgOpts := sqshook.PostgresOptions{Schema: c.schema, Lease: c.lease, Poll: 20 * time.Millisecond}
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = sqshook.MigratePostgres(mctx, admin, pgOpts)
	cancel()
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	fmt.Fprintf(out, "PostgreSQL: %s, schema %q: the demo ran sqshook.MigratePostgres (as \"sqshook migrate\" would) and the schema is at version %d; the instances only check it\n",
		where, c.schema, sqshook.PostgresSchemaVersion)

	run := strconv.FormatInt(time.Now().UnixNano()%1e12, 36) // this run's event ids
	insts := make([]*pgInstance, c.instances)
	defer func() { // on an early return: close what was started
		for _, in := range insts {
			if in != nil && in.d != nil && in.stoppedAt == 0 {
				cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = in.d.Close(cctx)
				cancel()
				in.pool.Close()
			}
		}
	}()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := range insts {
		in := &pgInstance{id: "demo-" + strconv.Itoa(i+1), cut: make(chan struct{}), dead: map[string]map[string]bool{},
			stopPub: make(chan struct{}), pubDone: make(chan struct{})}
		if in.pool, err = pgxpool.NewWithConfig(ctx, cfg.Copy()); err != nil {
			return fmt.Errorf("-postgres: %s: %w", where, err)
		}
		po := pgOpts
		po.InstanceID = in.id
		sqsc := cuttableSQS{Client: client, cut: in.cut}
		in.d, err = sqshook.New(hooks,
			sqshook.WithPostgres(in.pool, po),
			sqshook.WithEndpoint(endpoint),
			sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return sqsc, nil }),
			sqshook.WithRetryPolicy(sqshook.RetryPolicy{MaxInterval: 500 * time.Millisecond}),
			sqshook.WithLogger(quiet), // the demo tells the story; the stopped instance's errors are expected
			sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) {
				in.deadMu.Lock()
				if in.dead[dl.HookID] == nil {
					in.dead[dl.HookID] = map[string]bool{}
				}
				in.dead[dl.HookID][dl.Event.ID] = true
				in.deadMu.Unlock()
			}))
		if err != nil {
			in.pool.Close()
			return err
		}
		insts[i] = in
	}
	hooks = insts[0].d.Hooks()
	fmt.Fprintf(out, "fleet: %d instances (%s), each a Dispatcher with WithPostgres, its own connection pool and InstanceID; lease %v\n",
		len(insts), instanceNames(insts), roundDuration(c.lease))
	fmt.Fprintln(out, "hooks:")
	for _, h := range hooks {
		types := "all events"
		if len(h.EventTypes) > 0 {
			types = strings.Join(h.EventTypes, ", ")
		}
		fmt.Fprintf(out, "  %-12s %-60s %s\n", h.ID, h.SQSQueueURL, types)
	}
	if srv != nil && c.throttle > 0 {
		srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Probability: c.throttle})
		fmt.Fprintf(out, "fault: %.0f%% of SendMessageBatch calls throttled\n", 100*c.throttle)
	}
	stopAt := c.duration / 3
	how := "cut off as a crash would (no more SQS or database calls, its leases left to lapse)"
	if c.stop == "close" {
		how = "closed (Close releases its leases)"
	}
	fmt.Fprintf(out, "publishing %d events/s for %v, each instance its share; at %v the instance owning the most hooks is %s\n",
		c.rate, roundDuration(c.duration), roundDuration(stopAt), how)
	fmt.Fprintln(out, "lease owners as they change:")

	start := time.Now()
	w := &pgWatcher{out: out, start: start, pool: admin, opts: pgOpts, owner: map[string]string{}}
	wctx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); w.run(wctx) }()
	defer func() { stopWatch(); <-watchDone }()

	per := float64(c.rate) / float64(len(insts))
	traffic := newChat(c.seed)
	var trafficMu sync.Mutex
	for i, in := range insts {
		go in.publish(ctx, per, c.duration, func(n int64) (sqshook.Event, error) {
			trafficMu.Lock()
			ev, err := traffic.next()
			trafficMu.Unlock()
			ev.ID = run + "-" + strconv.Itoa(i+1) + "-" + strconv.FormatInt(n, 10)
			return ev, err
		})
	}
	delivered := func(in *pgInstance) uint64 { return totals(in.d.Stats()).Delivered }
	stopProgress := startProgress(out, c.progress, func(elapsed time.Duration) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%6v  published", roundDuration(elapsed))
		var pub int64
		for _, in := range insts {
			pub += in.pub.Load()
		}
		fmt.Fprintf(&b, " %d  delivered by", pub)
		for _, in := range insts {
			fmt.Fprintf(&b, " %s %d", in.id, delivered(in))
		}
		fmt.Fprintf(&b, "  in the database %d", w.backlog.Load())
		return b.String()
	})

	var victim *pgInstance
	var victimHooks []string
	select {
	case <-ctx.Done():
	case <-time.After(stopAt):
		victim, victimHooks = w.pickVictim(insts)
		victim.stop(c.stop, start)
		w.stopped(victim, victimHooks)
		fmt.Fprintf(out, "%9v  stop: %s %s; it owned %s\n", roundDuration(victim.stoppedAt), victim.id, how, orNone(victimHooks))
	}
	for _, in := range insts {
		<-in.pubDone
	}
	publishedFor := time.Since(start)
	var attempted int64
	for _, in := range insts {
		attempted += in.pub.Load() + in.pubErrs.Load()
	}
	want := float64(c.rate) * c.duration.Seconds()
	if victim != nil { // its publisher stopped with it
		want -= per * (c.duration - victim.stoppedAt).Seconds()
	}
	if ctx.Err() == nil && float64(attempted) < 0.9*want {
		fmt.Fprintf(out, "note: the instances published %d events, not the %.0f asked: each Publish is one INSERT committed on its own, and the CPU or the database was short\n",
			attempted, want)
	}

	// Wait for the database to hold no copy: every one delivered (or
	// dead-lettered) by an owner and deleted.
	drainCtx, cancelDrain := context.WithTimeout(ctx, time.Minute+3*c.lease)
	defer cancelDrain()
	for w.backlog.Load() != 0 || !w.fresh(publishedFor) {
		if drainCtx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopProgress()
	drained := drainCtx.Err() == nil
	stopWatch()
	<-watchDone
	for _, in := range insts {
		if in.stoppedAt != 0 && c.stop == "close" {
			continue
		}
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if in.stoppedAt != 0 { // cut: Close cannot reach SQS or the database; it gives up at once
			cctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		}
		_ = in.d.Close(cctx)
		cancel()
		if in.stoppedAt == 0 {
			in.pool.Close()
			in.stoppedAt = -1 // closed
		}
	}
	fmt.Fprintln(out)
	return w.summarize(ctx, out, c, srv, client, hooks, insts, victim, victimHooks, drained)
}

func instanceNames(insts []*pgInstance) string {
	names := make([]string, len(insts))
	for i, in := range insts {
		names[i] = in.id
	}
	return strings.Join(names, ", ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no hook"
	}
	return strings.Join(s, ", ")
}

// publish publishes rate events per second through in until d has passed
// or in is stopped.
func (in *pgInstance) publish(ctx context.Context, rate float64, d time.Duration, next func(n int64) (sqshook.Event, error)) {
	defer close(in.pubDone)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var n int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-in.stopPub:
			return
		case now := <-tick.C:
			elapsed := now.Sub(start)
			if elapsed >= d {
				return
			}
			for ; float64(n) < rate*elapsed.Seconds(); n++ {
				select {
				case <-in.stopPub:
					return
				default:
				}
				if time.Since(start) >= d {
					return // behind the rate: stop on time all the same
				}
				ev, err := next(n)
				if err == nil {
					err = in.d.Publish(ctx, ev)
				}
				if err != nil {
					in.pubErrs.Add(1)
					continue
				}
				in.events = append(in.events, pgDemoEvent{id: ev.ID, typ: ev.Type})
				in.pub.Add(1)
			}
		}
	}
}

// stop stops in's publisher, then stops in: "close" closes it (its leases
// released), else it is cut off as a crash would be.
func (in *pgInstance) stop(mode string, start time.Time) {
	close(in.stopPub)
	<-in.pubDone
	in.stoppedAt = time.Since(start)
	if mode == "close" {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = in.d.Close(cctx)
		cancel()
		in.pool.Close()
		return
	}
	close(in.cut)
	in.pool.Close() // the fetch loop's next statement fails: nothing is renewed or released
}

// pgWatcher follows the lease table: it prints each change of a hook's
// owner, times the takeover of the stopped instance's hooks and counts
// the copies left in the database.
type pgWatcher struct {
	out   io.Writer
	start time.Time
	pool  *pgxpool.Pool
	opts  sqshook.PostgresOptions

	mu       sync.Mutex
	owner    map[string]string // hook id → live owner ("": none)
	victim   string
	waiting  map[string]bool          // the victim's hooks not yet taken over
	takeover map[string]takeoverEvent // hook → who took it, when (since the stop)
	stopAt   time.Duration
	last     time.Duration // when the backlog was last read, since the start

	backlog atomic.Int64
}

type takeoverEvent struct {
	by    string
	after time.Duration
}

func (w *pgWatcher) run(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *pgWatcher) poll(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	n := func(t string) string { return pgx.Identifier{w.opts.Schema, t}.Sanitize() }
	rows, err := w.pool.Query(qctx, `SELECT h.hook_id, CASE WHEN l.until > now() THEN l.owner ELSE '' END
FROM `+n("sqshook_lease")+` l JOIN `+n("sqshook_hook")+` h ON h.id = l.hook WHERE h.tenant = '' AND l.lane = 0`)
	if err != nil {
		return
	}
	owners, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var o [2]string
		err := r.Scan(&o[0], &o[1])
		return o, err
	})
	if err != nil {
		return
	}
	read := time.Since(w.start)
	var backlog int64
	if err := w.pool.QueryRow(qctx, "SELECT count(*) FROM "+n("sqshook_copy")).Scan(&backlog); err != nil {
		return
	}
	w.backlog.Store(backlog)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = read
	sort.Slice(owners, func(i, j int) bool { return owners[i][0] < owners[j][0] })
	for _, o := range owners {
		hook, owner := o[0], o[1]
		if prev, seen := w.owner[hook]; prev == owner && (seen || owner == "") {
			w.owner[hook] = owner
			continue
		}
		w.owner[hook] = owner
		who := owner
		if who == "" {
			who = "(none: the lease lapsed or was released)"
		}
		line := fmt.Sprintf("%9v  %s: %s", roundDuration(read), hook, who)
		if w.waiting[hook] && owner != "" && owner != w.victim {
			delete(w.waiting, hook)
			after := read - w.stopAt
			w.takeover[hook] = takeoverEvent{by: owner, after: after}
			line += fmt.Sprintf("  (takeover from %s, %v after the stop)", w.victim, roundDuration(after))
		}
		fmt.Fprintln(w.out, line)
	}
}

// pickVictim names the running instance that owns the most hooks now,
// and those hooks.
func (w *pgWatcher) pickVictim(insts []*pgInstance) (*pgInstance, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	owned := map[string][]string{}
	for h, o := range w.owner {
		owned[o] = append(owned[o], h)
	}
	best := insts[0]
	for _, in := range insts[1:] {
		if len(owned[in.id]) > len(owned[best.id]) {
			best = in
		}
	}
	hs := owned[best.id]
	sort.Strings(hs)
	return best, hs
}

func (w *pgWatcher) stopped(in *pgInstance, hooks []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.victim, w.stopAt = in.id, in.stoppedAt
	w.waiting, w.takeover = map[string]bool{}, map[string]takeoverEvent{}
	for _, h := range hooks {
		w.waiting[h] = true
	}
}

// fresh reports whether the backlog was read after since (from the start).
func (w *pgWatcher) fresh(since time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last > since
}

// summarize prints who delivered what, the takeover, and what each queue
// received against what was published; it fails when a copy is lost.
func (w *pgWatcher) summarize(ctx context.Context, out io.Writer, c demoConfig, srv *sqstest.Server, client *sqs.Client,
	hooks []sqshook.Hook, insts []*pgInstance, victim *pgInstance, victimHooks []string, drained bool) error {
	ok := true
	var published, pubErrs int64
	for _, in := range insts {
		published += in.pub.Load()
		pubErrs += in.pubErrs.Load()
	}
	fmt.Fprintf(out, "published %d events (%d Publish errors)\n\n", published, pubErrs)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "instance\tpublished\t")
	for _, h := range hooks {
		fmt.Fprintf(tw, "%s delivered\t", h.ID)
	}
	fmt.Fprintln(tw, "\t")
	for _, in := range insts {
		fmt.Fprintf(tw, "%s\t%d\t", in.id, in.pub.Load())
		by := map[string]uint64{}
		for _, h := range in.d.Stats().Hooks {
			by[h.HookID] += h.Delivered
		}
		for _, h := range hooks {
			fmt.Fprintf(tw, "%d\t", by[h.ID])
		}
		note := ""
		if in == victim {
			note = fmt.Sprintf("stopped at %v", roundDuration(in.stoppedAt))
		}
		fmt.Fprintf(tw, "%s\t\n", note)
	}
	tw.Flush()
	fmt.Fprintln(out, "(an instance delivers the hooks whose lease it holds, whoever published the event)")

	if victim != nil {
		w.mu.Lock()
		if len(victimHooks) == 0 {
			fmt.Fprintf(out, "\ntakeover: %s owned no hook when it stopped\n", victim.id)
		}
		for _, h := range victimHooks {
			if t, got := w.takeover[h]; got {
				fmt.Fprintf(out, "\ntakeover: %s taken over by %s %v after %s stopped (lease %v)", h, t.by, roundDuration(t.after), victim.id, roundDuration(c.lease))
			} else {
				fmt.Fprintf(out, "\ntakeover: %s NOT taken over after %s stopped", h, victim.id)
				ok = false
			}
		}
		w.mu.Unlock()
		fmt.Fprintln(out)
	}
	if !drained {
		fmt.Fprintf(out, "the database still holds %d copies after the wait\n", w.backlog.Load())
		ok = false
	}

	received, err := queueEventIDs(ctx, srv, client, hooks)
	if err != nil {
		fmt.Fprintf(out, "reading the queues: %v\n", err)
		return errFailed
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "hook\tcopies published\treceived\tduplicates\tdead letters\tlost\t")
	var lostAll int
	for _, h := range hooks {
		f, err := sqshook.CompileFilter(h.EventTypes)
		if err != nil {
			return err
		}
		got := received[h.ID]
		want, recv, dups, dead, lost := 0, 0, 0, 0, 0
		for _, in := range insts {
			in.deadMu.Lock()
			for _, ev := range in.events {
				if !f.Match(ev.typ) {
					continue
				}
				want++
				switch n := got[ev.id]; {
				case n > 0:
					recv++
					dups += n - 1
				case deadLettered(insts, h.ID, ev.id):
					dead++
				default:
					lost++
				}
			}
			in.deadMu.Unlock()
		}
		lostAll += lost
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", h.ID, want, recv, dups, dead, lost)
	}
	tw.Flush()
	fmt.Fprintln(out, "(received: this run's events found in the queue; duplicates: copies sent again by the new owner of a hook whose old owner stopped before its deletions reached the database)")
	fmt.Fprintln(out)
	if lostAll > 0 {
		ok = false
	}
	if ok {
		fmt.Fprintf(out, "delivery: OK — 0 lost: every published event reached each matching queue (or was dead-lettered)\n")
		return nil
	}
	fmt.Fprintf(out, "delivery: FAILED — %d lost\n", lostAll)
	return errFailed
}

// deadLettered reports whether an instance dead-lettered hook's copy of
// event id. The caller holds the deadMu of at most the instance it reads
// events of; this one locks the others.
func deadLettered(insts []*pgInstance, hook, id string) bool {
	for _, in := range insts {
		if in.dead[hook][id] {
			return true
		}
	}
	return false
}

// queueEventIDs counts, per hook, the event ids its queue received: from
// the in-process endpoint's record, or by receiving (and deleting) every
// message of an external endpoint's queue.
func queueEventIDs(ctx context.Context, srv *sqstest.Server, client *sqs.Client, hooks []sqshook.Hook) (map[string]map[string]int, error) {
	got := map[string]map[string]int{}
	for _, h := range hooks {
		m := map[string]int{}
		got[h.ID] = m
		if srv != nil {
			for _, msg := range srv.Received(h.SQSQueueURL) {
				m[msg.Attributes[sqshook.AttrEventID].StringValue]++
			}
			continue
		}
		empty := 0
		for empty < 2 {
			res, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(h.SQSQueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
				MessageAttributeNames: []string{sqshook.AttrEventID},
			})
			if err != nil {
				return nil, err
			}
			if len(res.Messages) == 0 {
				empty++
				continue
			}
			empty = 0
			for _, msg := range res.Messages {
				if a, ok := msg.MessageAttributes[sqshook.AttrEventID]; ok {
					m[aws.ToString(a.StringValue)]++
				}
				if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(h.SQSQueueURL), ReceiptHandle: msg.ReceiptHandle}); err != nil {
					return nil, err
				}
			}
		}
	}
	return got, nil
}

// lockedWriter serializes the progress lines and the watcher's lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

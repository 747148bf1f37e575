package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/spool"
	"github.com/sqshook/sqshook/sqstest"
)

// demoHooks is the demo's configuration, in the format of Stream's app
// settings: every event; messages only; and a FIFO moderation queue.
const demoHooks = `{"event_hooks": [
  {"id": "all-events", "enabled": true, "hook_type": "sqs",
   "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/sqshook-demo-all",
   "sqs_region": "us-east-1", "sqs_auth_type": "keys",
   "sqs_key": "AKIADEMOEXAMPLE00000", "sqs_secret": "demo-secret-not-real",
   "event_types": []},
  {"id": "messages", "enabled": true, "hook_type": "sqs",
   "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/sqshook-demo-messages",
   "sqs_region": "us-east-1", "sqs_auth_type": "keys",
   "sqs_key": "AKIADEMOEXAMPLE00000", "sqs_secret": "demo-secret-not-real",
   "event_types": ["message.*"]},
  {"id": "moderation", "enabled": true, "hook_type": "sqs",
   "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/sqshook-demo-moderation.fifo",
   "sqs_region": "us-east-1", "sqs_auth_type": "keys",
   "sqs_key": "AKIADEMOEXAMPLE00000", "sqs_secret": "demo-secret-not-real",
   "event_types": ["user.banned", "message.flagged"]}
]}`

type demoConfig struct {
	rate     int
	duration time.Duration
	endpoint string
	latency  time.Duration
	throttle float64
	outage   time.Duration
	seed     int64
	hooks    string
	progress time.Duration
	spoolDir string
	crash    time.Duration
	metrics  string
	tenants  int // > 0: the multi-tenant demo (demotenants.go)
	down     int // that tenant's queues answer ServiceUnavailable; -1: none

	// The fleet demo (demopostgres.go), with postgres set.
	postgres  string
	instances int
	schema    string
	lease     time.Duration
	stop      string // "kill" or "close"
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", `Publishes simulated chat traffic (messages, reactions, typing, channel
updates, bans, …) through three hooks — every event; message.* only; a FIFO
moderation queue for user.banned and message.flagged — into SQS, shows live
progress, then a per-hook summary, the accounting check, and one message
read back from a queue and decoded.

By default SQS is an in-process endpoint (package sqstest) with a simulated
round trip; -endpoint sends to another endpoint instead (an emulator such as
local-aws-sqs, which must accept any credentials). The exit code is non-zero
if any event is unaccounted for.

With -postgres, the events go through a PostgreSQL database that
-instances dispatchers in this process share, as a fleet's servers do: the
demo migrates the schema first, shows which instance owns (delivers) each
hook, stops one instance a third of the way in, times the takeover of its
hooks, and checks that each queue received every event published.`, stderr)
	var c demoConfig
	fs.IntVar(&c.rate, "rate", 2000, "events published per second (with -postgres: default 500)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "how long to publish")
	fs.StringVar(&c.endpoint, "endpoint", "", "SQS endpoint URL (default: an in-process endpoint)")
	fs.DurationVar(&c.latency, "latency", 5*time.Millisecond, "simulated round trip of the in-process endpoint")
	fs.Float64Var(&c.throttle, "throttle", 0, "share of SendMessageBatch calls the in-process endpoint throttles (0-1)")
	fs.DurationVar(&c.outage, "outage", 0, "an outage of the in-process endpoint this long, a third of the way in")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the simulated traffic and faults")
	fs.StringVar(&c.hooks, "hooks", "", "a JSON file of hooks to use instead of the built-in three")
	fs.DurationVar(&c.progress, "progress", 0, "progress interval (default: 200ms on a terminal, 1s otherwise)")
	fs.StringVar(&c.spoolDir, "spool", "", "keep accepted events in a spool in this directory; a later run delivers what an earlier one left")
	fs.DurationVar(&c.crash, "crash-after", 0, "kill this process (SIGKILL) after publishing this long; with -spool, run again to finish the delivery")
	fs.StringVar(&c.metrics, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics and the health JSON at /debug/sqshook while the demo runs (e.g. 127.0.0.1:9464)")
	fs.IntVar(&c.tenants, "tenants", 0, "publish for this many tenants, each with its own two hooks and queues (0: one app, the three hooks above)")
	fs.IntVar(&c.down, "down-tenant", -1, "with -tenants: this tenant's queues answer ServiceUnavailable for the whole run")
	fs.StringVar(&c.postgres, "postgres", "", "run a fleet on this PostgreSQL database (URL or connection string); \"-postgres\" alone or \"-postgres=\" uses $DATABASE_URL")
	fs.IntVar(&c.instances, "instances", 3, "with -postgres: how many dispatchers share the database")
	fs.StringVar(&c.schema, "schema", "sqshook_demo", "with -postgres: the schema that holds the demo's tables (created, migrated, kept)")
	fs.DurationVar(&c.lease, "lease", 2*time.Second, "with -postgres: PostgresOptions.Lease, how long a stopped instance's hooks wait for another owner")
	fs.StringVar(&c.stop, "stop", "kill", "with -postgres: how the instance is stopped: kill (cut off as a crash would) or close (Close releases its leases)")
	if err := parse(fs, postgresArgs(args)); err != nil {
		return err
	}
	pgSet, rateSet := false, false
	fs.Visit(func(f *flag.Flag) {
		pgSet = pgSet || f.Name == "postgres"
		rateSet = rateSet || f.Name == "rate"
	})
	if pgSet && c.postgres == "" {
		if c.postgres = os.Getenv("DATABASE_URL"); c.postgres == "" {
			return usagef("-postgres without a URL uses $DATABASE_URL, which is not set")
		}
	}
	if c.postgres != "" {
		if !rateSet {
			c.rate = 500 // each Publish is one INSERT committed on its own
		}
		switch {
		case c.instances < 2:
			return usagef("-instances must be at least 2: one is stopped and another takes over")
		case c.lease < 30*time.Millisecond:
			return usagef("-lease must be at least 30ms")
		case c.stop != "kill" && c.stop != "close":
			return usagef("-stop must be kill or close")
		case c.schema == "":
			return usagef("-schema must name a schema")
		case c.tenants > 0 || c.spoolDir != "" || c.crash > 0 || c.metrics != "" || c.outage > 0:
			return usagef("-tenants, -spool, -crash-after, -metrics and -outage do not go with -postgres")
		}
	}
	switch {
	case c.rate <= 0:
		return usagef("-rate must be positive")
	case c.duration <= 0:
		return usagef("-duration must be positive")
	case c.throttle < 0 || c.throttle > 1:
		return usagef("-throttle must be between 0 and 1")
	case c.crash < 0:
		return usagef("-crash-after must not be negative")
	case c.endpoint != "" && (c.throttle > 0 || c.outage > 0 || c.down >= 0):
		return usagef("-throttle, -outage and -down-tenant need the in-process endpoint (no -endpoint)")
	case c.tenants < 0:
		return usagef("-tenants must not be negative")
	case c.down >= 0 && c.down >= c.tenants:
		return usagef("-down-tenant must name one of the -tenants (0 to %d)", c.tenants-1)
	case c.tenants > 0 && c.hooks != "":
		return usagef("-hooks and -tenants do not go together")
	case c.tenants > 0 && (c.spoolDir != "" || c.crash > 0 || c.metrics != ""):
		return usagef("-spool, -crash-after and -metrics do not go with -tenants")
	}
	if c.postgres != "" {
		return demoPostgres(ctx, c, stdout)
	}
	if c.tenants > 0 {
		return demoTenants(ctx, c, stdout)
	}
	return demo(ctx, c, stdout)
}

func demo(ctx context.Context, c demoConfig, out io.Writer) error {
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

	var opts []sqshook.Option
	var metrics *metricsServer
	if c.metrics != "" {
		if metrics, err = startMetrics(c.metrics); err != nil {
			return err
		}
		defer metrics.stop()
		opts = append(opts, metrics.options()...)
		fmt.Fprintf(out, "metrics: curl http://%s/metrics   health: curl http://%s/debug/sqshook\n", metrics.addr, metrics.addr)
	}
	var deadMu sync.Mutex
	dead := map[sqshook.Reason]int{}
	if c.spoolDir != "" {
		opts = append(opts, sqshook.WithSpool(c.spoolDir, spool.Options{}))
	}
	d, err := sqshook.New(hooks, append(opts,
		sqshook.WithEndpoint(endpoint),
		// Short waits between retries keep the demo brisk after an outage.
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{MaxInterval: 500 * time.Millisecond}),
		sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) {
			deadMu.Lock()
			dead[dl.Reason]++
			deadMu.Unlock()
		}),
	)...)
	if err != nil {
		return err
	}
	if metrics != nil {
		metrics.mux.Handle("/debug/sqshook", d.HealthHandler())
	}
	if s := d.Stats().Spool; s != nil {
		fmt.Fprintf(out, "spool %s: %d copies resumed from an earlier run (%d dead-lettered: hook removed %d, corrupt %d)\n",
			c.spoolDir, s.Resumed, s.HookRemoved+s.Corrupt, s.HookRemoved, s.Corrupt)
	}
	hooks = d.Hooks()
	fmt.Fprintf(out, "hooks:\n")
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
	if srv != nil && c.outage > 0 {
		fmt.Fprintf(out, "fault: outage of %v starting at %v\n", roundDuration(c.outage), roundDuration(c.duration/3))
	}
	fmt.Fprintf(out, "publishing %d events/s for %v; progress counts copies (one per matching hook)\n\n", c.rate, roundDuration(c.duration))

	published, publishErrs := publishTraffic(ctx, c, d, srv, out)

	// Drain, showing progress while the backlog (after an outage, say) goes out.
	fmt.Fprintln(out, "draining: waiting for every copy to be delivered or dead-lettered")
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	drainStart := time.Now()
	stopProgress := startProgress(out, c.progress, func(elapsed time.Duration) string {
		st := totals(d.Stats())
		return fmt.Sprintf("drain %6v  copies: matched %d  delivered %d  pending %d  dead letters %d",
			roundDuration(elapsed), st.Matched, st.Delivered, st.Pending, st.DeadLettered)
	})
	closeErr := d.Close(closeCtx)
	stopProgress()
	fmt.Fprintf(out, "drained in %v\n\n", roundDuration(time.Since(drainStart)))
	return summarize(ctx, out, d, client, hooks, published, publishErrs, closeErr, dead, &deadMu)
}

// roundDuration rounds d for people: milliseconds above a second, tenths of
// a millisecond below.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// startProgress prints line's result every interval (default: 200ms on a
// terminal, 1s otherwise), in place on a terminal, until the returned
// function is called; that prints it a last time.
func startProgress(out io.Writer, every time.Duration, line func(elapsed time.Duration) string) (stop func()) {
	terminal := isTerminal(out)
	if every <= 0 {
		every = time.Second
		if terminal {
			every = 200 * time.Millisecond
		}
	}
	start := time.Now()
	show := func() {
		if terminal {
			fmt.Fprintf(out, "\r%-110s", line(time.Since(start)))
		} else {
			fmt.Fprintln(out, line(time.Since(start)))
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				show()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		show()
		if terminal {
			fmt.Fprintln(out)
		}
	}
}

// publishTraffic publishes at the configured rate, printing progress, and
// returns how many Publish calls succeeded and failed.
func publishTraffic(ctx context.Context, c demoConfig, d *sqshook.Dispatcher, srv *sqstest.Server, out io.Writer) (published, failed int64) {
	traffic := newChat(c.seed)
	var pub, errs atomic.Int64
	start := time.Now()
	lastDelivered, lastAt, rate := uint64(0), start, 0.0
	stopProgress := startProgress(out, c.progress, func(elapsed time.Duration) string {
		st := totals(d.Stats())
		if now := time.Now(); now.Sub(lastAt) >= 100*time.Millisecond {
			rate = float64(st.Delivered-lastDelivered) / now.Sub(lastAt).Seconds()
			lastDelivered, lastAt = st.Delivered, now
		}
		return fmt.Sprintf("%6v  published %d  copies: matched %d  delivered %d  pending %d  dead letters %d  %.0f copies/s",
			roundDuration(elapsed), pub.Load(), st.Matched, st.Delivered, st.Pending, st.DeadLettered, rate)
	})

	outageStart, outageEnd := c.duration/3, c.duration/3+c.outage
	inOutage := false
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	// faults starts and ends the outage and crashes on time; it runs
	// between events too, since Publish may wait past many ticks.
	faults := func(elapsed time.Duration) {
		if c.crash > 0 && elapsed >= c.crash {
			crash(out, d, pub.Load())
		}
		if srv != nil && c.outage > 0 {
			want := elapsed >= outageStart && elapsed < outageEnd
			if want != inOutage {
				srv.SetOutage(want)
				inOutage = want
			}
		}
	}
	due := 0.0
publish:
	for {
		select {
		case <-ctx.Done():
			break publish
		case now := <-tick.C:
			elapsed := now.Sub(start)
			if elapsed >= c.duration {
				break publish
			}
			faults(elapsed)
			due = float64(c.rate)*elapsed.Seconds() - float64(pub.Load()+errs.Load())
			for ; due >= 1; due-- {
				elapsed := time.Since(start)
				if elapsed >= c.duration {
					break publish // behind the rate: stop on time all the same
				}
				faults(elapsed)
				ev, err := traffic.next()
				if err == nil {
					err = d.Publish(ctx, ev)
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				pub.Add(1)
			}
		}
	}
	if inOutage {
		srv.SetOutage(false)
	}
	stopProgress()
	took := time.Since(start)
	attempted := pub.Load() + errs.Load()
	if want := float64(c.rate) * c.duration.Seconds(); ctx.Err() == nil && float64(attempted) < 0.9*want {
		fmt.Fprintf(out, "note: this machine kept %.0f events/s of the %d asked (%d events in %v, not %.0f): Publish waited for room or the CPU was short\n",
			float64(attempted)/took.Seconds(), c.rate, attempted, roundDuration(took), want)
	}
	fmt.Fprintln(out)
	return pub.Load(), errs.Load()
}

// crash kills the process as a crash would: nothing is flushed or closed.
func crash(out io.Writer, d *sqshook.Dispatcher, published int64) {
	st := totals(d.Stats())
	fmt.Fprintf(out, "\ncrash: SIGKILL after %d events accepted, %d copies delivered, %d held in memory", published, st.Delivered, st.Pending)
	if s := d.Stats().Spool; s != nil {
		fmt.Fprintf(out, "; the spool holds %d pending copies", s.Pending)
	}
	fmt.Fprintln(out)
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill() // SIGKILL on Unix
	}
	os.Exit(137)
}

func totals(s sqshook.Stats) sqshook.HookStats {
	var t sqshook.HookStats
	for _, h := range s.Hooks {
		t.Matched += h.Matched
		t.Delivered += h.Delivered
		t.DeadLettered += h.DeadLettered
		t.Pending += h.Pending
		t.Spooled += h.Spooled
		t.Batches += h.Batches
		t.Retries += h.Retries
	}
	return t
}

func summarize(ctx context.Context, out io.Writer, d *sqshook.Dispatcher, client *sqs.Client, hooks []sqshook.Hook,
	published, publishErrs int64, closeErr error, dead map[sqshook.Reason]int, deadMu *sync.Mutex) error {
	fmt.Fprintf(out, "published %d events (%d Publish errors)\n\n", published, publishErrs)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "hook\tmatched\tdelivered\tdead letters\tpending\tbatches\tretries\tevents/batch\t")
	ok := true
	for _, h := range d.Stats().Hooks {
		perBatch := 0.0
		if h.Batches > 0 {
			perBatch = float64(h.Delivered) / float64(h.Batches)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t\n", h.HookID, h.Matched, h.Delivered, h.DeadLettered, h.Pending, h.Batches, h.Retries, perBatch)
		if h.Matched != h.Delivered+h.DeadLettered+h.Pending+h.Spooled || h.Pending != 0 {
			ok = false
		}
	}
	tw.Flush()
	if sp := totals(d.Stats()).Spooled; sp > 0 {
		fmt.Fprintf(out, "spool: %d copies kept for the next run\n", sp)
	}
	deadMu.Lock()
	if len(dead) > 0 {
		fmt.Fprintf(out, "dead letters by reason: %v\n", dead)
	}
	deadMu.Unlock()
	fmt.Fprintln(out)
	if ok && closeErr == nil {
		fmt.Fprintln(out, "accounting: OK — every matched event was delivered or dead-lettered (matched = delivered + dead letters, pending 0)")
	} else {
		fmt.Fprintf(out, "accounting: FAILED — some events are unaccounted for (close: %v)\n", closeErr)
	}

	// Read one message back from the messages queue (or the first hook's).
	readFrom := hooks[0]
	for _, h := range hooks {
		if h.ID == "messages" {
			readFrom = h
		}
	}
	if err := readBack(ctx, out, client, readFrom); err != nil {
		fmt.Fprintf(out, "\nreading a message back from %s: %v\n", readFrom.ID, err)
		ok = false
	}
	if !ok || closeErr != nil {
		return errFailed
	}
	return nil
}

func readBack(ctx context.Context, out io.Writer, client *sqs.Client, h sqshook.Hook) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(h.SQSQueueURL), MaxNumberOfMessages: 1, WaitTimeSeconds: 1,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		return err
	}
	if len(res.Messages) == 0 {
		return errors.New("the queue is empty")
	}
	m := res.Messages[0]
	event, err := sqshook.DecodeBody(aws.ToString(m.Body))
	if err != nil {
		return err
	}
	var pretty map[string]any
	if err := json.Unmarshal(event, &pretty); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(pretty, "  ", "  ")
	fmt.Fprintf(out, "\none message read back from %s (%d bytes, event_id %s, event_type %s):\n  %s\n",
		h.ID, len(aws.ToString(m.Body)),
		aws.ToString(m.MessageAttributes[sqshook.AttrEventID].StringValue),
		aws.ToString(m.MessageAttributes[sqshook.AttrEventType].StringValue), js)
	return nil
}

// createQueue creates the queue a hook URL names on the endpoint.
func createQueue(ctx context.Context, client *sqs.Client, url string) error {
	name := url[strings.LastIndexByte(url, '/')+1:]
	attrs := map[string]string{}
	if strings.HasSuffix(name, ".fifo") {
		attrs[string(types.QueueAttributeNameFifoQueue)] = "true"
	}
	_, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// demoSQS returns the demo's SQS endpoint and a client of it: c.endpoint, or
// an in-process endpoint (srv, which the caller closes) with c's simulated
// round trip. Extra options go to the in-process endpoint.
func demoSQS(c demoConfig, out io.Writer, opts ...sqstest.Option) (*sqstest.Server, string, *sqs.Client) {
	var srv *sqstest.Server
	endpoint := c.endpoint
	if endpoint == "" {
		srv = sqstest.NewServer(append([]sqstest.Option{sqstest.WithLatency(c.latency), sqstest.WithSeed(c.seed)}, opts...)...)
		endpoint = srv.URL()
		fmt.Fprintf(out, "SQS: in-process endpoint %s, simulated round trip %v\n", endpoint, c.latency)
	} else {
		fmt.Fprintf(out, "SQS: %s\n", endpoint)
	}
	client := sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIADEMOEXAMPLE00000", "demo-secret-not-real", "")),
		Retryer:      aws.NopRetryer{},
	})
	return srv, endpoint, client
}

// This file owns BenchmarkWatermill: sqshook's PostgreSQL store
// (WithPostgres, the root module through this module's replace directive)
// against Watermill's PostgreSQL publisher plus its forwarder component,
// on the same database, the same SQS stand-in and the same workload, in
// one run.
package storecmp

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

const (
	wmHooks      = 3                    // hooks (queues) each event goes to
	wmPublishers = 16                   // goroutines publishing, each event in its own transaction
	wmRTT        = 2 * time.Millisecond // sqstest's simulated round trip
	wmPoll       = 10 * time.Millisecond
)

// BenchmarkWatermill publishes n events of 1.8 KB, each inside its own
// transaction, from 16 goroutines, to three hooks (three SQS queues of one
// sqstest server answering after a simulated 2 ms round trip), and times
// until the queues hold all 3n copies, twice on the same database:
//
//   - watermill: each event is published with forwarder.Publisher over
//     watermill-sql's Publisher on the caller's transaction (pgx), once per
//     hook, each hook with a forwarder topic of its own; three
//     forwarder.Forwarders (one per hook, so that the hooks are delivered
//     in parallel as sqshook's are) read them with watermill-sql's
//     Subscriber (the default PostgreSQL schema and offsets adapters, a
//     10 ms poll) and publish each message to its queue with one
//     SendMessage, as Watermill's SQS publisher does;
//   - sqshook: Tenant.PublishTx on the caller's transaction, delivered by
//     a dispatcher with WithPostgres (default options but a 10 ms poll).
//
// Both use pools of 20 connections. watermill-events/s and
// sqshook-events/s are delivered copies per second; x-watermill is
// sqshook's over Watermill's (the target is at least 3).
func BenchmarkWatermill(b *testing.B) {
	n := 1000
	srv := sqstest.NewServer(sqstest.WithLatency(wmRTT), sqstest.WithoutRecording())
	defer srv.Close()
	body := []byte(`{"type":"message.new","message":{"text":"` + text(1700) + `"}}`)
	var tW, tS time.Duration
	rounds := 0
	for b.Loop() {
		tW += runWatermill(b, srv, body, n)
		tS += runSqshook(b, srv, body, n)
		rounds++
	}
	w := float64(rounds*wmHooks*n) / tW.Seconds()
	s := float64(rounds*wmHooks*n) / tS.Seconds()
	b.ReportMetric(0, "ns/op") // one op is a whole round: not meaningful
	b.ReportMetric(w, "watermill-events/s")
	b.ReportMetric(s, "sqshook-events/s")
	b.ReportMetric(s/w, "x-watermill")
}

func text(n int) string {
	const s = "Welcome to the Community! "
	out := make([]byte, n)
	for i := range out {
		out[i] = s[i%len(s)]
	}
	return string(out)
}

// wmQueues creates a queue per hook.
func wmQueues(srv *sqstest.Server, prefix string) []string {
	urls := make([]string, wmHooks)
	for i := range urls {
		urls[i] = srv.CreateQueue(fmt.Sprintf("%s-%d-%d", prefix, i, time.Now().UnixNano()), nil)
	}
	return urls
}

// wmWait waits until every queue holds n messages and returns the time
// since start.
func wmWait(b *testing.B, srv *sqstest.Server, urls []string, n int, start time.Time) time.Duration {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for _, u := range urls {
		for srv.Count(u) < n {
			if time.Now().After(deadline) {
				b.Fatalf("%s: %d of %d messages in 5 minutes", u, srv.Count(u), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	for _, u := range urls {
		if got := srv.Count(u); got != n {
			b.Fatalf("%s: %d messages, want %d", u, got, n)
		}
	}
	return elapsed
}

// wmPublishAll calls publish(i) for i in [0, n) from wmPublishers
// goroutines, each call in a transaction of its own.
func wmPublishAll(b *testing.B, pool *pgxpool.Pool, n int, publish func(ctx context.Context, tx pgx.Tx) error) {
	b.Helper()
	ctx := context.Background()
	var g errgroup.Group
	for w := range wmPublishers {
		g.Go(func() error {
			for i := w; i < n; i += wmPublishers {
				tx, err := pool.Begin(ctx)
				if err != nil {
					return err
				}
				if err := publish(ctx, tx); err != nil {
					_ = tx.Rollback(ctx)
					return err
				}
				if err := tx.Commit(ctx); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// sqsSink is a Watermill publisher sending each message to the queue
// named by its topic with one SendMessage.
type sqsSink struct {
	client *sqs.Client
	urls   map[string]string
}

func (s *sqsSink) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		_, err := s.client.SendMessage(m.Context(), &sqs.SendMessageInput{
			QueueUrl: aws.String(s.urls[topic]), MessageBody: aws.String(string(m.Payload)),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *sqsSink) Close() error { return nil }

// runWatermill is BenchmarkWatermill's Watermill run on a fresh schema.
func runWatermill(b *testing.B, srv *sqstest.Server, body []byte, n int) time.Duration {
	b.Helper()
	d := openDB(b, "wm")
	pool := d.newPool(b, 20)
	defer pool.Close()
	urls := wmQueues(srv, "wm")
	sink := &sqsSink{client: srv.Client(), urls: map[string]string{}}
	log := watermill.NopLogger{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var fwds []*forwarder.Forwarder
	defer func() {
		for _, f := range fwds {
			_ = f.Close()
		}
	}()
	for i, u := range urls {
		hookTopic, fwdTopic := fmt.Sprintf("hook_%d", i), fmt.Sprintf("forward_%d", i)
		sink.urls[hookTopic] = u
		sub, err := wmsql.NewSubscriber(wmsql.BeginnerFromPgx(pool), wmsql.SubscriberConfig{
			SchemaAdapter:    wmsql.DefaultPostgreSQLSchema{},
			OffsetsAdapter:   wmsql.DefaultPostgreSQLOffsetsAdapter{},
			InitializeSchema: true,
			PollInterval:     wmPoll,
		}, log)
		if err != nil {
			b.Fatal(err)
		}
		if err := sub.SubscribeInitialize(fwdTopic); err != nil {
			b.Fatal(err)
		}
		f, err := forwarder.NewForwarder(sub, sink, log, forwarder.Config{ForwarderTopic: fwdTopic})
		if err != nil {
			b.Fatal(err)
		}
		fwds = append(fwds, f)
		go func() { _ = f.Run(ctx) }()
		<-f.Running()
	}
	start := time.Now()
	wmPublishAll(b, pool, n, func(ctx context.Context, tx pgx.Tx) error {
		pub, err := wmsql.NewPublisher(wmsql.TxFromPgx(tx), wmsql.PublisherConfig{SchemaAdapter: wmsql.DefaultPostgreSQLSchema{}}, log)
		if err != nil {
			return err
		}
		for i := range wmHooks {
			fp := forwarder.NewPublisher(pub, forwarder.PublisherConfig{ForwarderTopic: fmt.Sprintf("forward_%d", i)})
			if err := fp.Publish(fmt.Sprintf("hook_%d", i), message.NewMessage(watermill.NewUUID(), body)); err != nil {
				return err
			}
		}
		return nil
	})
	return wmWait(b, srv, urls, n, start)
}

// runSqshook is BenchmarkWatermill's sqshook run on a fresh schema.
func runSqshook(b *testing.B, srv *sqstest.Server, body []byte, n int) time.Duration {
	b.Helper()
	d := openDB(b, "sq")
	pool := d.newPool(b, 20)
	defer pool.Close()
	opts := sqshook.PostgresOptions{Schema: d.schema, Poll: wmPoll}
	if err := sqshook.MigratePostgres(context.Background(), pool, opts); err != nil {
		b.Fatal(err)
	}
	urls := wmQueues(srv, "sq")
	hooks := make([]sqshook.Hook, len(urls))
	for i, u := range urls {
		hooks[i] = sqshook.Hook{
			ID: fmt.Sprintf("h%d", i), Enabled: true, HookType: sqshook.HookTypeSQS, SQSQueueURL: u, SQSRegion: "us-east-1",
			SQSAuthType: sqshook.AuthKeys, SQSKey: "AKIASQSTESTEXAMPLE00", SQSSecret: "x",
		}
	}
	disp, err := sqshook.New(hooks, sqshook.WithPostgres(pool, opts), sqshook.WithEndpoint(srv.URL()))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := disp.Close(ctx); err != nil {
			b.Errorf("Close: %v", err)
		}
	}()
	start := time.Now()
	wmPublishAll(b, pool, n, func(ctx context.Context, tx pgx.Tx) error {
		return disp.PublishTx(ctx, tx, sqshook.Event{Type: "message.new", Body: body})
	})
	return wmWait(b, srv, urls, n, start)
}

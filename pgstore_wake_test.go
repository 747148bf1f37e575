// pgstore_wake_test.go measures how soon the owner of a hook delivers a
// copy another instance recorded: the owner's fetch loop finds it at its
// poll (PostgresOptions.Poll).

package sqshook_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// pgWakeFleet is two instances on one schema and one hook: owner took the
// hook's lease first, publisher publishes; the queue's accept time of
// each event id is kept.
type pgWakeFleet struct {
	owner, publisher *sqshook.Dispatcher
	mu               sync.Mutex
	accepted         map[string]time.Time
	done             chan string
}

// newPGWakeFleet starts the fleet: poll is both instances' Poll, lease
// their Lease. The owner is started first and owns the hook before the
// publisher starts.
func newPGWakeFleet(tb testing.TB, url string, opts sqshook.PostgresOptions, poll, lease time.Duration) *pgWakeFleet {
	tb.Helper()
	f := &pgWakeFleet{accepted: map[string]time.Time{}, done: make(chan string, 1024)}
	srv := sqstest.NewServer(sqstest.WithOnAccept(func(_ string, m sqstest.Message) {
		id := m.Attributes[sqshook.AttrEventID].StringValue
		f.mu.Lock()
		f.accepted[id] = m.ReceivedAt
		f.mu.Unlock()
		select {
		case f.done <- id:
		default:
		}
	}), sqstest.WithoutRecording())
	tb.Cleanup(srv.Close)
	hook := pgHook("wake", srv.CreateQueue("wake", nil))
	client := srv.Client()
	start := func(id string) *sqshook.Dispatcher {
		pool, err := pgxpool.New(context.Background(), url)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(pool.Close)
		po := opts
		po.InstanceID, po.Poll, po.Lease = id, poll, lease
		d, err := sqshook.New([]sqshook.Hook{hook}, sqshook.WithPostgres(pool, po), sqshook.WithEndpoint(srv.URL()),
			sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return client, nil }),
			sqshook.WithLinger(time.Millisecond), sqshook.WithRetryPolicy(fastRetries))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = d.Close(ctx)
		})
		return d
	}
	f.owner = start("owner")
	check, err := pgxpool.New(context.Background(), url)
	if err != nil {
		tb.Fatal(err)
	}
	defer check.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		err := check.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{opts.Schema, "sqshook_lease"}.Sanitize()+
			" WHERE owner = 'owner' AND until > now()").Scan(&n)
		if err != nil {
			tb.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatal("the owner took no lease in a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.publisher = start("publisher")
	return f
}

// publish publishes n events on the publisher, each once the previous
// one was delivered and then 0 to 2·gap later (the owner idle), and returns the
// latencies from each Publish's return (committed) to the queue's accept.
func (f *pgWakeFleet) publish(tb testing.TB, n int, gap, bound time.Duration) []time.Duration {
	tb.Helper()
	var lat []time.Duration
	ctx := context.Background()
	for i := range n {
		id := fmt.Sprintf("wake-%d", i)
		if err := f.publisher.Publish(ctx, sqshook.Event{ID: id, Type: "message.new", Body: []byte(`{"i":1}`)}); err != nil {
			tb.Fatal(err)
		}
		published := time.Now()
		timeout := time.After(bound)
	wait:
		for {
			select {
			case got := <-f.done:
				if got == id {
					break wait
				}
			case <-timeout:
				tb.Fatalf("event %d not delivered %v after its Publish", i, bound)
			}
		}
		f.mu.Lock()
		lat = append(lat, f.accepted[id].Sub(published))
		f.mu.Unlock()
		time.Sleep(rand.N(2 * gap)) // uniform, so that publishes fall anywhere in the owner's poll
	}
	for _, h := range f.publisher.Stats().Hooks {
		if h.Delivered > 0 {
			tb.Fatalf("the publisher delivered %d copies: the owner was to deliver them all", h.Delivered)
		}
	}
	return lat
}

// BenchmarkPostgresWakeLatency measures the latency from a Publish on one
// instance (returned: committed) to the SQS accept of the copy the owner,
// another instance, sent: both at the default Poll, the owner idle
// between events (0 to 200 ms apart once the previous one is delivered,
// so that publishes fall anywhere in the owner's poll), a 1 ms linger, an
// endpoint without simulated latency. p50-ms and p99-ms over 100 events
// per op.
func BenchmarkPostgresWakeLatency(b *testing.B) {
	url := pgBenchURL(b)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	opts := pgBenchSchema(b, url, pool)
	f := newPGWakeFleet(b, url, opts, 0, 0)
	var lat []time.Duration
	for b.Loop() {
		lat = append(lat, f.publish(b, 100, 100*time.Millisecond, time.Minute)...)
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
